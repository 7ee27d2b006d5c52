"""Signal processing for floss reps: segment angles, rep segmentation, per-rep quality metrics."""
