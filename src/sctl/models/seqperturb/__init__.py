"""SeqPerturb: gene-change prediction from embedded condition sequences (Ali et al. 2024, Open Problems)."""

from ._model import SeqPerturb
from ._module import ENCODERS, SeqPerturbModule

__all__ = ["ENCODERS", "SeqPerturb", "SeqPerturbModule"]
