"""Physical constants the collector converts with, each with its source."""

#: Standard acceleration of gravity, m/s² (exact by definition: 3rd CGPM, 1901; ISO 80000-3).
#: Equal to ``scipy.constants.g``; sensors quote accelerometer ranges in multiples of it.
G_MPS2 = 9.80665
