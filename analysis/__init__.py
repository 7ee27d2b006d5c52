"""Signal processing for floss reps: segment angles, rep segmentation, per-rep quality metrics.

No I/O, Qt or asyncio here. Entry points: ``analysis.session.RepAnalysis`` (a whole session →
one ``AnalysisResult``) and ``analysis.online.OnlineAnalyzer`` (live, block by block; the same
pipeline, and its ``result()`` is the same kind of object).
"""
