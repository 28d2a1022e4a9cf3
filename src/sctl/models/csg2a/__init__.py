"""CSG²A :cite:p:`bang2025csg2a`: condition-specific gene-gene attention, in two models.

:class:`CSG2A` is pretrained on perturbation profiles; :class:`CSG2AIC50`, built from it, is fine-tuned on ln IC50.
"""

from sctl.models.csg2a._ic50 import CSG2AIC50
from sctl.models.csg2a._model import CSG2A
from sctl.models.csg2a._module import ChemicalConditionEncoder, CSG2AIC50Module, CSG2AModule, IC50Head

__all__ = ["CSG2A", "CSG2AIC50", "CSG2AIC50Module", "CSG2AModule", "ChemicalConditionEncoder", "IC50Head"]
