from ._data import multidrug_data
from ._model import MultiDrugTransfer
from ._module import MultiDrugModule

__all__ = ["MultiDrugModule", "MultiDrugTransfer", "multidrug_data"]
