"""Signal processing for floss reps: segment angles, rep segmentation, per-rep quality metrics.

No I/O, Qt or asyncio here. Entry points: ``analysis.session.analyze`` (a whole session) and
``analysis.online.OnlineAnalyzer`` (live, block by block; the same pipeline).
"""


def analyze(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Analyse a whole session; see :func:`analysis.session.analyze`."""
    from analysis.session import analyze as _analyze

    return _analyze(*args, **kwargs)
