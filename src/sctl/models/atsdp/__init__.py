from ._model import ATSDPNet
from ._module import ATSDPModule

__all__ = ["ATSDPModule", "ATSDPNet"]
