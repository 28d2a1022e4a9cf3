from sctl.models.multidrug._data import multidrug_data
from sctl.models.multidrug._model import MultiDrugTransfer
from sctl.models.multidrug._module import MultiDrugModule

__all__ = ["MultiDrugModule", "MultiDrugTransfer", "multidrug_data"]
