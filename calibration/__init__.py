"""FP16/INT8 conversion and calibration (see issue 6)."""
