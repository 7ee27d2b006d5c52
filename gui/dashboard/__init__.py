"""The Qt dashboard: live and replay views of the straps, the reps and their feedback.

Plain view models (``ring``, ``feed``, ``feedback``, ``sensors``, ``frames``, ``session``,
``recorded``) hold everything the widgets show and are tested without a window; the widgets
(``widgets``, ``plots``, ``timeline``, ``views``, ``live_view``, ``replay_view``) only read them.
"""
