from sctl.models.pathway_transfer._model import PathwayTransfer
from sctl.models.pathway_transfer._module import PathwayTransferModule

__all__ = ["PathwayTransfer", "PathwayTransferModule"]
