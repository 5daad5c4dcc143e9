"""Export to ONNX driven by an ExportSpec, with validation against PyTorch."""
