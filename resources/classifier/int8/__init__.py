"""INT8: post-training static quantization, its calibration, the stored INT8 version, float vs. INT8 comparison."""
