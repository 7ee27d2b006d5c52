"""Movement smoothness of a speed profile: SPARC and LDLJ, as defined by Balasubramanian et al.

Both take a movement's speed profile sampled uniformly at ``fs`` (Hz) and return a unitless
number: closer to zero is smoother, more negative is less smooth.

.. [1] Balasubramanian S, Melendez-Calderon A, Burdet E. A robust and sensitive metric for
   quantifying movement smoothness. IEEE Trans Biomed Eng 2012;59(8):2126-36.
.. [2] Balasubramanian S, Melendez-Calderon A, Roby-Brami A, Burdet E. On the analysis of
   movement smoothness. J NeuroEng Rehabil 2015;12:112. (SPARC with adaptive cut-off; LDLJ.)
.. [3] Reference implementation: github.com/siva82kb/SPARC (defaults padlevel=4, fc=10 Hz,
   amp_th=0.05), reimplemented here from the papers' definitions.
"""

from __future__ import annotations

import numpy as np
import scipy.fft


def sparc(
    speed: np.ndarray, fs: float, padlevel: int = 4, fc: float = 10.0, amp_th: float = 0.05
) -> float:
    """Spectral arc length (SPARC) of a speed profile, unitless (≤ 0; −1.4 for one smooth move).

    The magnitude spectrum ``|V(f)|`` of the zero-padded profile (FFT length
    ``2**(ceil(log2 N) + padlevel)``) is normalised by its maximum, restricted to
    ``0 ≤ f ≤ fc``, and then to the band from the first to the last frequency where it is at
    least ``amp_th`` (the adaptive cut-off of [2]). SPARC is minus the length of that curve with
    frequency normalised by the band's width: ``−Σ sqrt((Δf / (f_last − f_first))² + (ΔV̂)²)``.
    """
    return sparc_each([speed], fs, padlevel, fc, amp_th)[0]


def sparc_each(
    speeds: list[np.ndarray],
    fs: float,
    padlevel: int = 4,
    fc: float = 10.0,
    amp_th: float = 0.05,
) -> list[float]:
    """:func:`sparc` of each profile; profiles with the same FFT length share one transform
    (a row each: the same numbers as one at a time, in less time)."""
    out = [float("nan")] * len(speeds)
    groups: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, speed in enumerate(speeds):
        v = np.asarray(speed, dtype=float)
        if v.ndim != 1 or len(v) < 2 or not np.isfinite(v).all():
            continue
        nfft = 1 << ((len(v) - 1).bit_length() + padlevel)  # 2**(ceil(log2 N) + padlevel)
        groups.setdefault(nfft, []).append((i, v))
    for nfft, members in groups.items():
        rows = np.zeros((len(members), nfft))
        for r, (_, v) in enumerate(members):
            rows[r, : len(v)] = v
        # the spectrum of a real signal is symmetric: the half up to fs/2 holds its maximum
        mags = np.abs(scipy.fft.rfft(rows, axis=-1))  # = numpy.fft.rfft bit for bit, faster
        for (i, _), mag in zip(members, mags, strict=True):
            out[i] = _arc_length(mag, fs / nfft, fc, amp_th)
    return out


def _arc_length(mag: np.ndarray, step: float, fc: float, amp_th: float) -> float:
    """SPARC's arc length of a magnitude spectrum with bins ``step`` Hz apart."""
    peak = mag.max()
    if peak == 0:
        return float("nan")
    n_fc = min(len(mag), int(fc / step) + 2)  # bins up to fc (and one past, to be exact)
    f = np.arange(n_fc) * step
    keep = f <= fc
    f, mag = f[keep], mag[:n_fc][keep] / peak
    above = np.flatnonzero(mag >= amp_th)
    f, mag = f[above[0] : above[-1] + 1], mag[above[0] : above[-1] + 1]
    if len(f) < 2:
        return 0.0
    df = np.diff(f) / (f[-1] - f[0])
    return float(-np.sum(np.sqrt(df**2 + np.diff(mag) ** 2)))


def ldlj(speed: np.ndarray, fs: float) -> float:
    """Log dimensionless jerk (velocity form), unitless (−5.3 for a minimum-jerk move).

    ``LDLJ = −ln( (N/fs)³ / max|v|² · Σ j² / fs )`` with duration ``N/fs``, jerk ``j`` the second
    finite difference of the speed times ``fs²`` [2].
    """
    v = np.asarray(speed, dtype=float)
    if v.ndim != 1 or len(v) < 3 or not np.all(np.isfinite(v)):
        return float("nan")
    peak = np.max(np.abs(v))
    if peak == 0:
        return float("nan")
    duration = len(v) / fs
    jerk = np.diff(v, 2) * fs * fs
    integral = np.sum(jerk**2) / fs
    if integral == 0:
        return float("nan")
    return float(-np.log(duration**3 / peak**2 * integral))
