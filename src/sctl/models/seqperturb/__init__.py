"""SeqPerturb: gene-change prediction from embedded condition sequences (Open Problems, :cite:t:`ali2024deep`)."""

from ._model import SeqPerturb
from ._module import ENCODERS, SeqPerturbModule

__all__ = ["ENCODERS", "SeqPerturb", "SeqPerturbModule"]
