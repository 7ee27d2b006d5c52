"""The session report: one self-contained HTML file a patient or clinician opens anywhere.

``flossmeter report S.flossrec -o S.html``: the session's knee and head angles with each rep
shaded in its score's colour, per-rep tempo, range and smoothness, the table of reps with their
flags in plain words (and, with a programme, whether each was done as prescribed), the symptom
ratings, and the programme against what was done. Plots are PNG (matplotlib, Agg) embedded as
``data:`` URIs; no script, font or stylesheet is fetched, so the file works offline and can be
mailed. Only the recording's participant pseudonym appears.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

from gui.dashboard.feedback import advice, score_tone

TONE_HEX = {"good": "#2e9e43", "fair": "#eba500", "poor": "#d62728", "neutral": "#808080"}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(result: Any) -> list[tuple[str, str]]:
    """(title, data URI) of the report's figures."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    reps = result.reps
    out = []
    fig, axes = plt.subplots(2, 1, figsize=(11, 5.2), sharex=True)
    for ax, role, title, colour in (
        (axes[0], "shin", "Knee angle, deg (+ = straighter)", "#1f5fa8"),
        (axes[1], "head", "Head angle, deg (+ = looking up)", "#e07b00"),
    ):
        a = result.angles.get(role)
        if a is not None and len(a):
            ax.plot(a["time_s"], a["angle_deg"], color=colour, lw=1.0)
        for r in reps.itertuples():
            ax.axvspan(r.start_s, r.end_s, color=TONE_HEX[score_tone(r.quality)], alpha=0.18, lw=0)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.2)
    axes[1].set_xlabel("session time, s")
    out.append(("Angles over the session, each rep shaded by its score", _png(fig)))
    plt.close(fig)
    if len(reps):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.0))
        x = reps["rep"].to_numpy()
        axes[0].bar(x - 0.2, reps["out_s"], 0.4, label="out", color="#1f5fa8")
        axes[0].bar(x + 0.2, reps["back_s"], 0.4, label="back", color="#9ecae1")
        axes[0].set_title("Tempo per glide, s", fontsize=10, loc="left")
        axes[0].legend(fontsize=8)
        axes[1].bar(x, reps["knee_rom_deg"], color="#1f5fa8")
        axes[1].set_title("Knee range, deg", fontsize=10, loc="left")
        axes[2].plot(x, reps["sparc"], "o-", color="#2e9e43", ms=4)
        axes[2].set_title("Smoothness (SPARC; nearer 0 is smoother)", fontsize=10, loc="left")
        for ax in axes:
            ax.set_xlabel("rep")
            ax.grid(alpha=0.2)
        fig.tight_layout()
        out.append(("Tempo, range and smoothness per rep", _png(fig)))
        plt.close(fig)
    return out


def _f(x: float, spec: str = ".1f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def build_report(rec: Any, result: Any, programme: Any = None) -> str:
    """The report of recording ``rec`` analysed into ``result`` (an ``AnalysisResult``), with
    the stored ``programme`` (``analysis.programme.Programme``) if any, as HTML text."""
    from analysis.programme import assess_session, session_log, set_summaries

    reps = result.reps
    meta = rec.meta
    e = html.escape
    who = str(meta.get("participant") or "no participant")
    when = str(meta.get("created_utc", "?"))
    log = session_log(rec.events)
    verdicts = {}
    if programme is not None:
        verdicts = {v.rep: v for v in assess_session(reps.itertuples(), programme, log)}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>flossmeter report — {e(who)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:24px auto;color:#222}"
        "h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th{background:#f2f2f2}th.l,td.l{text-align:left}.tag{padding:1px 6px;border-radius:8px;"
        "color:white}.box{border:1px solid #ddd;border-radius:6px;padding:8px 12px;"
        "background:#fafafa}</style></head><body>",
        "<h1>Nerve flossing session</h1>",
        f"<p class='box'>Participant <b>{e(who)}</b> · recorded {e(when)} · "
        f"{rec.duration_s / 60:.1f} min · <b>{len(reps)}</b> reps in "
        f"{int(reps['set'].max()) if len(reps) else 0} sets · mean quality "
        f"<b>{_f(float(reps['quality'].mean()) if len(reps) else math.nan, '.0f')}</b></p>",
    ]
    if programme is not None:
        sums = set_summaries(list(verdicts.values()), programme)
        done = sum(v.as_prescribed for v in verdicts.values())
        parts += [
            "<h2>Programme and what was done</h2>",
            f"<pre class='box'>{e(programme.summary())}</pre>",
            f"<p><b>{done}</b> of {len(verdicts)} reps as prescribed "
            f"({programme.sets * programme.reps_per_set} prescribed).</p><ul>",
            *[f"<li>{e(s.text())}</li>" for s in sums],
            "</ul>",
        ]
    if log.ratings or log.decisions:
        parts.append("<h2>Symptoms</h2><ul>")
        for t, rating, note in log.ratings:
            extra = f" — {e(note)}" if note else ""
            parts.append(f"<li>{t / 60:.1f} min: <b>{rating}/10</b>{extra}</li>")
        for t, decision, cap in log.decisions:
            what = f"range capped at {cap:g}°" if decision == "reduce" and cap else decision
            parts.append(f"<li>{t / 60:.1f} min: decided: {e(what)}</li>")
        parts.append("</ul>")
    for title, uri in _plots(result):
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='{uri}' style='width:100%'>")
    parts.append("<h2>Reps</h2><table><tr><th>rep</th><th>set</th><th>score</th>"
                 "<th>technique</th><th>out s</th><th>back s</th><th>knee °</th><th>head °</th>"
                 "<th>SPARC</th><th>hold s</th><th class='l'>what to work on</th>"
                 + ("<th class='l'>as prescribed</th>" if programme is not None else "")
                 + "</tr>")  # fmt: skip
    has_head = "head" in rec.samples
    for r in result.records:  # the dashboard's advice and score colours, in the same words
        words = "; ".join(advice(r, has_head))
        tone = TONE_HEX[score_tone(r.quality)]
        row = (
            f"<tr><td>{r.rep}</td><td>{r.set}</td><td><span class='tag' "
            f"style='background:{tone}'>{r.quality:.0f}</span></td><td class='l'>"
            f"{e(str(r.technique))}</td><td>{_f(r.out_s)}</td><td>{_f(r.back_s)}</td>"
            f"<td>{_f(r.knee_rom_deg, '.0f')}</td><td>{_f(r.head_rom_deg, '.0f')}</td>"
            f"<td>{_f(r.sparc, '.2f')}</td><td>{_f(r.hold_s)}</td><td class='l'>{e(words)}</td>"
        )
        if programme is not None:
            row += f"<td class='l'>{e(verdicts[r.rep].text())}</td>"
        parts.append(row + "</tr>")
    parts.append("</table>")
    parts.append(
        "<h2>What the numbers mean</h2><ul>"
        "<li><b>score</b>: 0–100, 100 minus a penalty for each thing to work on.</li>"
        "<li><b>out / back</b>: seconds to straighten the knee and to bend it back.</li>"
        "<li><b>knee / head °</b>: how far each moved in the rep.</li>"
        "<li><b>SPARC</b>: smoothness of the knee's glide; nearer 0 is smoother.</li>"
        "<li><b>hold</b>: the longest time both straps were still at end range: the glide "
        "should never stop.</li></ul>"
        "<p style='color:#777;font-size:12px'>flossmeter — definitions in "
        "docs/data-dictionary.md of the software; no name is stored, only the pseudonym.</p>"
        "</body></html>"
    )
    return "\n".join(parts)


def report_of(rec: Any, result: Any, path_out: Path) -> Path:
    """Write the report of ``rec`` already analysed into ``result`` (replay's analysis, reused),
    with the programme the recording stores, if a valid one."""
    from analysis.programme import stored_programme

    prog = stored_programme(rec.meta)
    path_out.parent.mkdir(parents=True, exist_ok=True)
    path_out.write_text(build_report(rec, result, prog), encoding="utf-8")
    return path_out


def write_report(path_in: Path, path_out: Path) -> tuple[Path, int]:
    """Load and analyse a recording and write its report; returns (path, reps)."""
    from analysis.session import RepAnalysis
    from collector.io import load

    rec = load(path_in)
    if "shin" not in rec.samples:
        raise ValueError(f"{path_in}: no shin samples (the shin strap is required)")
    result = RepAnalysis().run(rec.samples).result_
    return report_of(rec, result, path_out), len(result.reps)


def build_period_report(sessions: list[Any], participant: str) -> str:
    """A participant's sessions over a period (the library's summaries, gui/history.py) as
    one self-contained HTML page: the sessions table, adherence per week, progress plots."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from gui.history import adherence

    e = html.escape
    weeks = adherence(sessions)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>flossmeter progress — {e(participant)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:24px auto;color:#222}"
        "h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th{background:#f2f2f2}</style></head><body>",
        f"<h1>Nerve flossing: progress of {e(participant)}</h1>",
    ]
    if not sessions:
        parts.append("<p>No sessions.</p></body></html>")
        return "\n".join(parts)
    parts.append(
        f"<p>{len(sessions)} sessions from {sessions[0].date} to {sessions[-1].date}.</p>"
        "<h2>Adherence per week</h2><ul>"
        + "".join(f"<li>{e(w.text())}</li>" for w in weeks)
        + "</ul>"
    )
    days = [(s.start_unix - sessions[0].start_unix) / 86400.0 for s in sessions]
    fig, axes = plt.subplots(2, 1, figsize=(11, 5.0), sharex=True)
    axes[0].plot(days, [s.knee_rom_deg for s in sessions], "o-", color="#1f5fa8")
    axes[0].set_ylabel("knee range, °")
    ax2 = axes[0].twinx()
    last = [s.last_rating for s in sessions]
    ax2.plot(days, last, "s--", color="#d62728")
    ax2.set_ylim(0, 10)
    ax2.set_ylabel("symptoms (0–10)", color="#d62728")
    axes[1].bar(days, [s.quality for s in sessions], width=0.6, color="#2e9e43")
    axes[1].set_ylim(0, 100)
    axes[1].set_ylabel("quality")
    axes[1].set_xlabel("days since the first session")
    for ax in axes:
        ax.grid(alpha=0.2)
    parts.append(f"<h2>Range, symptoms and quality</h2><img alt='progress' src='{_png(fig)}' "
                 "style='width:100%'>")  # fmt: skip
    plt.close(fig)
    parts.append(
        "<h2>Sessions</h2><table><tr><th>date</th><th>reps</th><th>as prescribed</th>"
        "<th>quality</th><th>knee °</th><th>head °</th><th>out s</th><th>back s</th>"
        "<th>SPARC</th><th>symptoms before → after</th></tr>"
    )
    for s in sessions:
        presc = f"{s.as_prescribed} of {s.prescribed_reps}" if s.as_prescribed >= 0 else "–"
        sym = f"{_f(s.symptoms_before, '.0f')} → {_f(s.symptoms_after, '.0f')}"
        parts.append(
            f"<tr><td>{s.date}</td><td>{s.reps}</td><td>{presc}</td><td>{_f(s.quality, '.0f')}"
            f"</td><td>{_f(s.knee_rom_deg, '.0f')}</td><td>{_f(s.head_rom_deg, '.0f')}</td>"
            f"<td>{_f(s.out_s)}</td><td>{_f(s.back_s)}</td><td>{_f(s.sparc, '.2f')}</td>"
            f"<td>{sym}</td></tr>"
        )
    parts.append("</table><p style='color:#777;font-size:12px'>flossmeter — only the pseudonym "
                 "is stored.</p></body></html>")  # fmt: skip
    return "\n".join(parts)
