"""The ONNX Runtime backend: ``OrtRunner`` (``runner.py``) and its GPU options (``gpu.py``)."""
