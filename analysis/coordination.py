"""Head–knee coordination: continuous relative phase, cross-correlation lag, technique.

.. [1] Lamb PF, Stöckl M. On the use of continuous relative phase: Review of current approaches
   and outline for a new standard. Clin Biomech 2014;29(5):484-93. (Hilbert-transform phase of
   amplitude-centred angle signals; edge effects reduced by padding.)
.. [2] Batschelet E. Circular statistics in biology. Academic Press, 1981. (circular mean/SD)
"""

from __future__ import annotations

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import correlate, hilbert


def hilbert_phase(x: np.ndarray, pad_frac: float = 0.5) -> np.ndarray:
    """Phase angle (rad) of an angle signal from its analytic signal, per Lamb & Stöckl [1];
    ``x`` is one signal or several of equal length (rows), each treated on its own.

    The signal is centred about zero by its amplitude midpoint ``(max + min) / 2``, padded at
    both ends by mirror reflection (``pad_frac`` of its length) to reduce Hilbert edge effects,
    transformed, and trimmed back.
    """
    x = np.asarray(x, dtype=float)
    x = x - 0.5 * (x.max(axis=-1, keepdims=True) + x.min(axis=-1, keepdims=True))
    n = x.shape[-1]
    pad = min(n - 1, int(n * pad_frac))
    # np.pad(x, pad, mode="reflect") along the last axis, without its per-call overhead
    if pad > 0:
        x = np.concatenate((x[..., pad:0:-1], x, x[..., -2 : -pad - 2 : -1]), axis=-1)
    analytic = hilbert(x, N=next_fast_len(x.shape[-1]), axis=-1)
    return np.angle(analytic[..., pad : pad + n])


def circular_mean_sd_deg(angles_rad: np.ndarray) -> tuple[float, float]:
    """Circular mean (deg, in (−180, 180]) and circular SD ``sqrt(−2 ln R)`` (deg) [2]."""
    z = np.mean(np.exp(1j * np.asarray(angles_rad)))
    r = min(abs(z), 1.0)
    sd = np.degrees(np.sqrt(-2.0 * np.log(r))) if r > 0 else float("inf")
    return float(np.degrees(np.angle(z))), float(sd)


def continuous_relative_phase(knee: np.ndarray, head: np.ndarray) -> tuple[float, float]:
    """CRP = φ_knee − φ_head over a rep: circular mean and SD in degrees.

    About 0° when head and knee move in phase (slider), about ±180° in anti-phase (tensioner).
    ``knee`` and ``head`` are angle signals (deg) on the same uniform time grid.
    """
    if len(knee) < 8 or np.ptp(knee) == 0 or np.ptp(head) == 0:
        return float("nan"), float("nan")
    phase = hilbert_phase(np.stack((knee, head)))  # one transform for both
    return circular_mean_sd_deg(phase[0] - phase[1])


def xcorr_lag(
    knee: np.ndarray, head: np.ndarray, fs: float, max_lag_s: float = 1.0, sign: int = 0
) -> tuple[float, float]:
    """Lag (s) of ``head`` behind ``knee`` at the cross-correlation peak, and the peak r.

    Signals are mean-removed and correlated over lags ±``max_lag_s`` (normalised by the overlap's
    norms, so r is a Pearson-like coefficient). ``sign`` picks the peak: +1 the most positive r
    (in-phase coupling), −1 the most negative (anti-phase), 0 the largest |r|. The lag is refined
    to a fraction of a sample by a parabola through the peak. Positive lag = head later.
    """
    k = np.asarray(knee, float) - np.mean(knee)
    h = np.asarray(head, float) - np.mean(head)
    n = len(k)
    m = min(round(max_lag_s * fs), n - 2)
    if n < 4 or m < 1:
        return float("nan"), float("nan")
    lags = np.arange(-m, m + 1)
    # num[lag] = Σ k[i]·h[i+lag]; the overlap's energies from cumulative sums of squares
    full = correlate(h, k, mode="full")  # index n−1 is lag 0
    num = full[n - 1 + lags]
    ck = np.concatenate(([0.0], np.cumsum(k * k)))
    ch = np.concatenate(([0.0], np.cumsum(h * h)))
    pos = lags >= 0
    ek = np.where(pos, ck[n - np.abs(lags)], ck[n] - ck[np.abs(lags)])
    eh = np.where(pos, ch[n] - ch[np.abs(lags)], ch[n - np.abs(lags)])
    den = np.sqrt(ek * eh)
    r = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    score = r if sign > 0 else (-r if sign < 0 else np.abs(r))
    i = int(np.argmax(score))
    frac = 0.0
    if 0 < i < len(lags) - 1:
        y0, y1, y2 = score[i - 1], score[i], score[i + 1]
        den = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / den if den != 0 else 0.0
    return float((lags[i] + frac) / fs), float(r[i])


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two equally long signals: ``np.corrcoef(x, y)[0, 1]``, the same
    operations (mean-centred rows, their dot products, scaled by the standard deviations),
    without its per-call overhead."""
    xy = np.array([x, y], dtype=float)
    xy -= xy.mean(axis=1)[:, None]
    c = np.dot(xy, xy.T.conj())
    c *= np.true_divide(1, xy.shape[1] - 1)
    sd = np.sqrt(np.diag(c).real)
    c /= sd[:, None]
    c /= sd[None, :]
    return float(np.clip(c[0, 1], -1, 1))


def classify_technique(
    knee: np.ndarray, head: np.ndarray, head_rom_deg: float, min_head_rom_deg: float, min_r: float
) -> tuple[str, float]:
    """``slider`` (head extends as the knee extends), ``tensioner`` (head flexes) or ``unclear``.

    ``knee`` and ``head`` are the extension-positive angles over the rep's glides (without the
    end-range look-up); the coupling is their Pearson correlation r: ≥ ``min_r`` slider,
    ≤ −``min_r`` tensioner, otherwise (or if the head barely moves) unclear. Returns (label, r).
    """
    if not np.isfinite(head_rom_deg) or head_rom_deg < min_head_rom_deg or len(knee) < 4:
        return "unclear", float("nan")
    if np.ptp(knee) == 0 or np.ptp(head) == 0:
        return "unclear", float("nan")
    r = pearson_r(knee, head)
    if r >= min_r:
        return "slider", r
    if r <= -min_r:
        return "tensioner", r
    return "unclear", r
