"""Every threshold of rep segmentation, calibration and scoring, with its default and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepParams:
    """Parameters of the rep detector, the start-up calibration and the per-rep scoring.

    Angles in degrees, times in seconds, angular speeds in deg/s. Defaults follow the exercise
    as prescribed (docs/analysis.md: 1.5–4 s per glide, knee range 60–85°, look-up 15–30°, no
    holds) and were checked against the simulator (``benchmarks/accuracy.py``). Nothing in the
    analysis uses a threshold that is not here (or in ``FrontEndParams`` for the per-strap
    front-end), so a study can change any of them without touching code.
    """

    # -- segmentation --------------------------------------------------------------------------
    start_deg: float = 15.0  # knee rotation from rest that opens a rep candidate
    min_rom_deg: float = 20.0  # a rep needs this much knee range (leg swings stay below ~20°)
    return_min_deg: float = 6.0  # the knee is back when within max(this, return_frac·peak) ...
    return_frac: float = 0.15  # ... of where it started (halts stop at ≥ 25 % of the range)
    onset_dps: float = 1.0  # movement onset/end: angular speed crosses this (noise ≈ 0.2 deg/s)
    floor_k: float = 2.0  # restless (no still sample for FrontEndParams.restless_s): onsets
    #   and ends are where the speed crosses max(onset_dps, floor_k × the strap's background
    #   speed while settled), not onset_dps, which restless sitting never goes below
    onset_extrapolate_max_s: float = 0.4  # a smooth start (speed ∝ t²) is extrapolated back to
    #   zero speed by at most this (minimum-jerk glides of 1.5–4 s start 0.1–0.3 s before
    #   crossing onset_dps; a longer shift would be extrapolating noise)
    refine_window_s: float = 0.5  # the onset/end refinement looks this far either side
    onset_lookback_s: float = 1.0  # a knee onset is searched at most this far before its rest
    confirm_s: float = 0.15  # the knee must be still this long, back at rest, to end a rep
    anchor_still_s: float = 0.3  # still this long between reps re-zeroes the knee's rest
    max_head_lead_s: float = 1.0  # the head may start moving at most this long before the knee
    max_head_tail_s: float = 1.0  # ... and stop at most this long after it
    head_rest_s: float = 0.1  # the head has come to rest once below onset_dps this long
    turn_window_s: float = 0.35  # back-to-back reps: the head turns round within this of the
    #   knee's lowest point (its end is its slowest moment there)
    set_gap_s: float = 15.0  # a longer rest between reps starts a new set
    # bounds: no detector state lasts for ever (a knee that does not come back to its rest)
    short_back_frac: float = 0.5  # a rep that stops short of its rest (10–18° short, or a seat
    #   slide) still came back this fraction of its range, and at least min_rom_deg ...
    short_stop_s: float = 1.0  # ... and then stayed still this long (longer than any halt
    #   mid-glide, 0.3–0.7 s) or went out again by start_deg (the next rep began)
    max_calm_s: float = 10.0  # a candidate whose knee then stays still (or sways in place)
    #   this long without coming back was not a rep (a seat slide, a leg put up): the rest is
    #   re-zeroed there (holds at end range last 1–6 s; a slide followed by a rep is handled
    #   by the return rules above and in the detector's returning state)
    calm_share: float = 0.8  # (restless: "calm" for max_calm_s is settled this share of it)
    flexion_lookback_s: float = 20.0  # a candidate that flexes from its rest (the rest was
    #   re-zeroed mid-rep) is a rep from the knee's lowest point up to this long before, if its
    #   rest was start_deg above that point and it came back there (out glide 1.5–4 s, halts,
    #   a hold of 1–6 s and a candidate dropped as a shift after max_calm_s: ≤ 20 s)
    max_active_s: float = 60.0  # a candidate out longer than this is dropped and the rest
    #   re-zeroed where the knee is (holds last 2–6 s; a knee out for a minute is not a rep)
    max_return_s: float = 15.0  # a rep whose knee is back but never comes to rest ends this
    #   long after it came back, at its lowest point
    max_axis_tilt_deg: float = 20.0  # the knee axis is horizontal: a rotation about an axis tilted
    #   more than this from horizontal is not a knee movement (strap handling, turning in the seat)
    axis_tol_deg: float = 20.0  # a rep turns about the knee axis learned from earlier reps
    axis_doubt_deg: float = 8.0  # beyond this tilt or this far from the learned axis (simulated
    #   reps stay within 6°), the rep must also show the knee's lever (see analysis/lever.py):
    min_lever_m: float = 0.06  # ... the strap swings on an arc at least this far from the axis
    min_lever_explained: float = 0.03  # ... or that arc explains this much of its acceleration
    lever_below_deg: float = 45.0  # a candidate with less range than this must show the lever
    #   whatever its axis, where one would be seen (lever_visible_mps2): a strap twisted by
    #   hand (15–40°) about an axis that happens to lie within axis_doubt_deg of the knee's
    #   passes the axis tests
    lever_visible_mps2: float = 0.15  # ... seen: a min_lever_m lever would move the strap by
    #   this much (RMS; accelerometer noise 0.01–0.04 m/s²). Slow partial glides move it by
    #   ~0.01 m/s² (too gently to tell: a 25 Hz strap then shows no lever), up to 0.13 with
    #   severe sway on top; a hand twisting a strap, jerky, by 0.25 m/s² and more
    swing_max_s: float = 1.2  # a candidate below lever_below_deg whose knee goes out and back
    #   within this is a leg swing (0.8–1.5 Hz: 0.3–0.6 s each way), not a rep: the exercise
    #   glides 1.5–4 s each way, the fastest simulated reps 0.8 s (small true reps measured:
    #   1.9 s or more under severe sway)
    lever_jolt_g: float = 0.3  # rows where the acceleration leaves its ±0.1 s median by more
    #   than this are left out of the lever fit: a chair bump (1–4 g for 30–80 ms) would swamp
    #   the lever's own 0.01–0.3 g, which changes over the glide, not within 0.1 s
    lever_min_samples: int = 8  # the lever fit needs at least this many samples of the rep
    #   (so does the axis from the rate, restless: see RepDetector._rate_axis)
    axis_memory: float = 0.7  # the learned knee axis is a decaying sum (weight of the past per
    #   rep): it follows a strap that is re-adjusted between sets within a few reps
    scan_window_s: float = 30.0  # the detector examines at most this much data per step (its
    #   decisions do not depend on it: it bounds the work per call, so nothing is rescanned)
    # -- start-up calibration --------------------------------------------------------------------
    calib_still_s: float = 1.5  # both straps still this long: the angles' zero
    calib_look_up_deg: float = 10.0  # head-only excursion (knee still) that counts as the look-up
    calib_rest_s: float = 0.3  # the head rests this long before the look-up (and half of it
    #   after): where the excursion is measured from, and when it is over
    calib_return_frac: float = 0.4  # the look-up is over once the head is back within this
    #   fraction of its largest excursion
    calib_axis_tilt_deg: float = 40.0  # the look-up turns about an axis within this of horizontal
    #   (pitch); a head turn (yaw) is about the vertical and is not the look-up
    calib_knee_still_deg: float = 5.0  # ... while the knee turns less than this (not a rep)
    # -- per-rep angles ------------------------------------------------------------------------
    rep_pad_s: float = 0.5  # data before and after a rep used to fit its angles (still samples
    #   at rest anchor the accelerometer fit)
    fit_scale_min_deg: float = 10.0  # the gyro's scale is fitted only when still samples lie at
    #   angles this far apart (rest and end range); closer, it cannot be told from noise
    fit_scale_limit: float = 0.1  # ... and is limited to ±10 % (MEMS scale errors are ≤ 3 %)
    fit_drift_min_s: float = 1.0  # a drift term is fitted only over still samples this far apart
    # -- scoring -------------------------------------------------------------------------------
    fast_glide_s: float = 1.5  # a glide (out or back) shorter than this is too fast
    slow_glide_s: float = 4.0  # ... longer than this is too slow
    partial_deg: float = 45.0  # knee range below this is partial
    hold_flag_s: float = 1.0  # stillness of both straps at end range at least this long: held
    hold_flag_shin_only_s: float = 3.0  # without a head strap a look-up (knee still, 1–2.5 s)
    #   cannot be told from a hold: only longer knee stillness is flagged
    hold_dps: float = 3.0  # "still" for holds: both straps below this angular speed
    end_range_deg: float = 5.0  # the knee is at end range within max(this, end_range_frac ·
    end_range_frac: float = 0.08  # range) of its maximum
    look_up_min_deg: float = 8.0  # extra head extension at end range that counts as a look-up
    look_up_return_frac: float = 0.5  # ... if the head came back within this fraction of it
    #   before the knee left end range (out and back, not the start of the return glide)
    look_up_evidence_deg: float = 12.0  # a look-up tells the head's direction (when nothing
    #   else has) only from this size: restless sway moves the head 8-9 deg out and back
    #   during a long hold (neck and trunk sway together), either way, which passed for a
    #   look-up in 12 of 300 no-look-up sessions (5 of them the wrong way); real look-ups are
    #   15-30 deg (10-20 in fast reps)
    head_min_rom_deg: float = 10.0  # less head range than this: the head is not moving
    coupling_min_r: float = 0.3  # |knee–head correlation| needed to name the technique
    lag_max_s: float = 1.0  # head–knee lags are searched within ±this (a glide lasts 1.5–4 s)
    lag_flag_s: float = 0.5  # head more than this behind or ahead of the knee: not coordinated
    halt_min_s: float = 0.15  # the knee stopping this long mid-glide is a halt
    halt_from_frac: float = 0.15  # ... between these fractions of its range (a stop near rest or
    halt_to_frac: float = 0.85  #   end range is the glide's own start or end)
    halting_sparc: float = -2.2  # mean glide SPARC below this is not smooth
    smoothness_fc_hz: float = 10.0  # SPARC's cut-off [Balasubramanian 2015]; LDLJ's input is
    #   low-passed here too (2nd-order Butterworth, zero phase), or its jerk measures sensor noise
    min_glide_samples: int = 8  # a glide shorter than this many samples gets no smoothness
