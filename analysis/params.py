"""Every threshold of rep segmentation and scoring, with its default and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepParams:
    """Parameters of the rep detector and the per-rep quality scoring.

    Angles in degrees, times in seconds, angular speeds in deg/s. Defaults follow the exercise
    as prescribed (DESIGN.md: 1.5–4 s per glide, knee range 60–85°, look-up 15–30°, no holds)
    and were checked against the simulator (``benchmarks/accuracy.py``).
    """

    # -- segmentation --------------------------------------------------------------------------
    start_deg: float = 15.0  # knee rotation from rest that opens a rep candidate
    min_rom_deg: float = 20.0  # a rep needs this much knee range (leg swings stay below ~20°)
    return_min_deg: float = 6.0  # the knee is back when within max(this, return_frac·peak) ...
    return_frac: float = 0.15  # ... of where it started (halts stop at ≥ 25 % of the range)
    onset_dps: float = 1.0  # movement onset/end: angular speed crosses this (noise ≈ 0.2 deg/s)
    confirm_s: float = 0.15  # the knee must be still this long, back at rest, to end a rep
    anchor_still_s: float = 0.3  # still this long between reps re-zeroes the knee's rest
    max_head_lead_s: float = 1.0  # the head may start moving at most this long before the knee
    max_head_tail_s: float = 1.0  # ... and stop at most this long after it
    turn_window_s: float = 0.35  # back-to-back reps: the head turns round within this of the
    #   knee's lowest point (its end is its slowest moment there)
    set_gap_s: float = 15.0  # a longer rest between reps starts a new set
    max_axis_tilt_deg: float = 20.0  # the knee axis is horizontal: a rotation about an axis tilted
    #   more than this from horizontal is not a knee movement (strap handling, turning in the seat)
    axis_tol_deg: float = 20.0  # a rep turns about the knee axis learned from earlier reps
    axis_doubt_deg: float = 8.0  # beyond this tilt or this far from the learned axis (simulated
    #   reps stay within 6°), the rep must also show the knee's lever (see analysis/lever.py):
    min_lever_m: float = 0.06  # ... the strap swings on an arc at least this far from the axis
    min_lever_explained: float = 0.03  # ... or that arc explains this much of its acceleration
    # -- start-up calibration --------------------------------------------------------------------
    calib_still_s: float = 1.5  # both straps still this long: the angles' zero
    calib_look_up_deg: float = 10.0  # head-only excursion (knee still) that counts as the look-up
    # -- scoring -------------------------------------------------------------------------------
    fast_glide_s: float = 1.5  # a glide (out or back) shorter than this is too fast
    slow_glide_s: float = 4.0  # ... longer than this is too slow
    partial_deg: float = 45.0  # knee range below this is partial
    hold_flag_s: float = 1.0  # stillness of both straps at end range at least this long: held
    hold_flag_shin_only_s: float = 3.0  # without a head strap a look-up (knee still, 1–2.5 s)
    #   cannot be told from a hold: only longer knee stillness is flagged
    hold_dps: float = 3.0  # "still" for holds: both straps below this angular speed
    end_range_deg: float = 5.0  # the knee is at end range within max(this, 8 % of range) of max
    look_up_min_deg: float = 8.0  # extra head extension at end range that counts as a look-up
    head_min_rom_deg: float = 10.0  # less head range than this: the head is not moving
    coupling_min_r: float = 0.3  # |knee–head correlation| needed to name the technique
    lag_flag_s: float = 0.5  # head more than this behind or ahead of the knee: not coordinated
    halt_min_s: float = 0.15  # the knee stopping this long mid-glide is a halt
    halting_sparc: float = -2.2  # mean glide SPARC below this is not smooth
