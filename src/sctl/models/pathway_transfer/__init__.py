from ._model import PathwayTransfer
from ._module import PathwayTransferModule

__all__ = ["PathwayTransfer", "PathwayTransferModule"]
