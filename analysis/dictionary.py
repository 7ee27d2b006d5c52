"""The data dictionary of the per-rep CSV: every column's unit, definition and reference.

``docs/data-dictionary.md`` is generated from this module (``flossmeter dictionary``) and a CSV
version is written beside every export, so the numbers in a file can always be traced back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from scipy.constants import g as G_MPS2  # standard gravity (the bounds in g)

from analysis.artefacts import ArtefactParams
from analysis.jolts import JoltParams
from analysis.metrics import PENALTIES
from analysis.params import RepParams
from analysis.results import Rep

P = RepParams()

REFS = {
    "B2015": "Balasubramanian S et al. On the analysis of movement smoothness. "
    "J NeuroEng Rehabil 2015;12:112",
    "B2012": "Balasubramanian S et al. A robust and sensitive metric for quantifying movement "
    "smoothness. IEEE TBME 2012;59(8):2126-36",
    "LS2014": "Lamb PF, Stöckl M. On the use of continuous relative phase. "
    "Clin Biomech 2014;29(5):484-93",
    "FH1985": "Flash T, Hogan N. The coordination of arm movements. J Neurosci 1985;5:1688-703",
    "BAT1981": "Batschelet E. Circular statistics in biology. Academic Press 1981",
    "P2016": "Pearson RK, Neuvo Y, Astola J, Gabbouj M. Generalized Hampel filters. "
    "EURASIP J Adv Signal Process 2016;2016:87",
}


@dataclass(frozen=True)
class Column:
    """One column of the per-rep CSV."""

    name: str
    unit: str
    definition: str
    reference: str = ""


AP = ArtefactParams()
JP = JoltParams()

ONSET = (
    f"Onsets and ends use the strap's angular speed smoothed over 0.1 s; where it crosses "
    f"{P.onset_dps:g} deg/s and 4× that, a speed rising like (t − t₀)² (any smooth start from "
    f"rest) is extrapolated back to zero."
)

COLUMNS: tuple[Column, ...] = (
    Column("recording", "", "Input file the rep comes from (folder analyses only)."),
    Column("rep", "count", "1-based number of the rep in the session."),
    Column(
        "set",
        "count",
        f"1-based set number; a rep starting more than {P.set_gap_s:g} s after the previous "
        "rep ended begins a new set.",
    ),
    Column(
        "start_s",
        "s",
        "Session time of the onset of the rep's first movement, knee or head (the head may lead "
        f"by up to {P.max_head_lead_s:g} s). " + ONSET,
    ),
    Column(
        "end_s",
        "s",
        "Session time when the last of knee and head came to rest (the head may finish up to "
        f"{P.max_head_tail_s:g} s after the knee). " + ONSET,
    ),
    Column("duration_s", "s", "end_s − start_s."),
    Column(
        "out_s",
        "s",
        "Knee extension glide: knee onset until the knee reaches end range (first time within "
        f"max({P.end_range_deg:g}°, {100 * P.end_range_frac:g} % of the range) of its maximum and "
        f"slower than "
        f"{P.onset_dps:g} deg/s). Includes any stops on the way.",
    ),
    Column(
        "back_s",
        "s",
        "Knee flexion glide: the knee leaves end range (last time there slower than "
        f"{P.onset_dps:g} deg/s) until it comes to rest.",
    ),
    Column(
        "knee_rom_deg",
        "deg",
        "Range (max − min) of shin inclination between knee onset and end. Inclination is the "
        "rotation about the rep's principal rotation axis: the integrated bias-corrected gyro, "
        "calibrated against the accelerometer on still samples (least-squares scale, offset and "
        "drift). Shin inclination is the knee-extension proxy: 0 = shin vertical, + = extension.",
    ),
    Column(
        "head_rom_deg",
        "deg",
        "Range of head pitch (trunk + neck, + = extension / looking up) between start and end, "
        "computed like the knee's. NaN without a head strap.",
    ),
    Column(
        "knee_peak_speed_dps",
        "deg/s",
        "Largest absolute angular velocity of the shin about the knee axis during the rep.",
    ),
    Column(
        "hold_s",
        "s",
        "Longest time while the knee is at end range (between reaching it and leaving it) during "
        f"which both straps turn slower than {P.hold_dps:g} deg/s. Looking up with the knee "
        "straight is movement, not a hold. Without a head strap only the knee is seen.",
    ),
    Column(
        "pause_before_s",
        "s",
        "Time from the previous rep's end to this rep's start, within a set; NaN for a set's "
        "first rep.",
    ),
    Column(
        "sparc",
        "1",
        "Spectral arc length of the shin's angular speed about the knee axis, mean of the out "
        "and back glides (each resampled uniformly at the strap's rate); padlevel 4, cut-off "
        f"{P.smoothness_fc_hz:g} Hz, amplitude threshold 0.05. 0 is perfectly smooth, more "
        "negative is less smooth; "
        "one minimum-jerk glide scores −1.40.",
        "B2012; B2015",
    ),
    Column(
        "ldlj",
        "1",
        "Log dimensionless jerk (velocity form) −ln(T³/v_peak² ∫ j² dt) of the shin's angular "
        "speed, mean of the out and back glides; the speed is low-passed at "
        f"{P.smoothness_fc_hz:g} Hz first "
        "(2nd-order Butterworth, zero phase) so that jerk measures movement, not sensor noise. "
        "One minimum-jerk glide scores −5.32.",
        "B2015",
    ),
    Column(
        "sparc_head",
        "1",
        "SPARC of the head's pitch angular speed over start → knee at end range and knee leaving "
        "end range → end (the look-up excluded), mean of the two.",
        "B2015",
    ),
    Column(
        "coordination_lag_s",
        "s",
        "Lag of head pitch behind knee inclination at the peak of their normalised "
        f"cross-correlation over the rep (lags within ±{P.lag_max_s:g} s; the most positive "
        "peak for sliders, "
        "most negative for tensioners, largest |r| otherwise; parabolic sub-sample refinement). "
        "+ = head later than the knee.",
    ),
    Column(
        "crp_mean_deg",
        "deg",
        "Continuous relative phase knee − head over the rep: phase angles from the Hilbert "
        "transform of the amplitude-centred angle signals (mirror-padded by half their length "
        "against edge effects); circular mean in (−180, 180]. About 0 = in phase (slider), "
        "about ±180 = anti-phase (tensioner).",
        "LS2014; BAT1981",
    ),
    Column(
        "crp_sd_deg",
        "deg",
        "Circular standard deviation sqrt(−2 ln R) of the continuous relative phase: how "
        "variable the coupling is within the rep.",
        "LS2014; BAT1981",
    ),
    Column(
        "technique",
        "category",
        "slider when knee inclination and head pitch over the glides (look-up excluded) "
        f"correlate with r ≥ {P.coupling_min_r:g} (the head extends as the knee extends), "
        f"tensioner when r ≤ −{P.coupling_min_r:g} (the head flexes), unclear otherwise, when "
        f"the head moves less than {P.head_min_rom_deg:g}°, without a head strap, or before "
        "the head's extension direction is known (start-up look-up or a slider's end-range "
        "look-up).",
    ),
    Column(
        "quality",
        "0–100",
        "100 minus a penalty per flag: "
        + ", ".join(f"{k} {v}" for k, v in PENALTIES.items())
        + "; not below 0.",
    ),
    Column("flags", "list", "Semicolon-separated problems found in the rep (see Flags)."),
    Column("knee_top_s", "s", "Session time the knee reached end range (end of out_s)."),
    Column("knee_back_start_s", "s", "Session time the knee left end range (start of back_s)."),
    Column(
        "look_up_deg",
        "deg",
        "Extra head rotation out and back while the knee is at end range (the slider's look-up); "
        f"counted from {P.look_up_min_deg:g}°, else 0. NaN without a head strap.",
    ),
    Column(
        "artefacts",
        "count",
        "Runs of artefact samples (a knocked strap, a hit beyond full scale) on either strap "
        "between the rep's start and end: samples no body segment can produce, found by a "
        f"Hampel identifier (±{AP.half_window_s * 1000:g} ms window, {AP.n_mad:g} scaled MADs, "
        f"at least {AP.gyro_dps:g} deg/s or {AP.acc_mps2 / G_MPS2:.2g} g from the window's "
        f"median) or beyond {AP.bound_gyro_dps:g} deg/s on an axis or "
        f"{AP.bound_acc_mps2 / G_MPS2:.2g} g; the analysis bridged them (straight line between "
        "the good samples either side), the recording keeps them as read. Plus jolts: a chair "
        f"bump felt by both straps within ±{JP.pair_s * 1000:g} ms, each strap's acceleration "
        f"more than {JP.acc_mps2 / G_MPS2:.2g} g from its ±{JP.half_window_s * 1000:g} ms median "
        "(reported, not bridged: what the straps really felt). Each is also an 'artefact' "
        "event of the session with its times.",
        "P2016",
    ),
)

FLAGS: dict[str, str] = {
    "too_fast": f"out_s or back_s below {P.fast_glide_s:g} s (take 2–3 s each way).",
    "too_slow": f"out_s or back_s above {P.slow_glide_s:g} s.",
    "held": f"hold_s of at least {P.hold_flag_s:g} s (shin only: {P.hold_flag_shin_only_s:g} s, "
    "since a look-up cannot be seen).",
    "partial": f"knee_rom_deg below {P.partial_deg:g}°.",
    "halting": f"the knee stopped for at least {P.halt_min_s:g} s with "
    f"{100 * P.halt_from_frac:g}–{100 * P.halt_to_frac:g} % of its range "
    f"covered, or the glides' mean SPARC is below {P.halting_sparc:g}.",
    "head_not_coordinated": f"head range below {P.head_min_rom_deg:g}°, head and knee not "
    f"coupled (technique unclear), or |coordination_lag_s| above {P.lag_flag_s:g} s.",
    "no_look_up": "a slider without the end-range look-up.",
    "head_missing": "no head-strap data for the rep.",
    "head_direction_unknown": "which way the head extends is not known yet (no start-up "
    "look-up and no slider look-up so far), so the technique is unclear: a strap turning by +a "
    "about u reads exactly like one turning by −a about −u.",
}


def columns() -> list[Column]:
    """The dictionary, in CSV column order (with ``recording`` first)."""
    names = ["recording", *Rep.columns()]
    by = {c.name: c for c in COLUMNS}
    missing = [n for n in names if n not in by]
    if missing:  # a Rep field without a definition is a bug
        raise RuntimeError(f"undocumented rep columns: {missing}")
    return [by[n] for n in names]


def markdown() -> str:
    """The data dictionary as Markdown (docs/data-dictionary.md)."""
    lines = [
        "# Data dictionary: per-rep CSV",
        "",
        "Generated from `analysis/dictionary.py` by `flossmeter dictionary`; every export writes",
        "this table as `<name>.dictionary.csv` beside the reps CSV. Times are session time in",
        "seconds from the start of the recording; NaN marks a value that does not apply.",
        "Thresholds are `analysis.params.RepParams` defaults.",
        "",
        "| column | unit | definition | reference |",
        "|---|---|---|---|",
    ]
    for c in columns():
        lines.append(f"| `{c.name}` | {c.unit} | {c.definition} | {c.reference} |")
    lines += ["", "## Flags", "", "| flag | meaning |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in FLAGS.items()]
    lines += ["", "## References", ""]
    lines += [f"- **{k}**: {v}." for k, v in REFS.items()]
    return "\n".join(lines) + "\n"


def rows() -> list[dict[str, str]]:
    """The dictionary as table rows (for the CSV written beside exports)."""
    return [{f.name: getattr(c, f.name) for f in fields(Column)} for c in columns()]
