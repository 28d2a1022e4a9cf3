from sctl.models.atsdp._model import ATSDPNet
from sctl.models.atsdp._module import ATSDPModule

__all__ = ["ATSDPModule", "ATSDPNet"]
