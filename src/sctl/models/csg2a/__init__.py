"""CSG²A: condition-specific gene-gene attention (Bang, Koo & Kim 2025), pretrained on perturbations."""

from ._model import CSG2A
from ._module import ChemicalConditionEncoder, CSG2AModule, IC50Head

__all__ = ["CSG2A", "CSG2AModule", "ChemicalConditionEncoder", "IC50Head"]
