"""nst: fast neural style transfer from training to real-time serving.

Importing ``nst`` is cheap: it pulls in neither torch, onnx, tensorrt nor CUDA. Heavy
libraries are imported lazily inside the modules that need them.
"""

from nst.errors import NstError

__version__ = "0.1.0"

__all__ = ["NstError", "__version__"]
