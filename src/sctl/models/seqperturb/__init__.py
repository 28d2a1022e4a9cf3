"""SeqPerturb: gene-change prediction from embedded condition sequences (Open Problems, :cite:t:`ali2024deep`)."""

from sctl.models.seqperturb._model import SeqPerturb
from sctl.models.seqperturb._module import ENCODERS, SeqPerturbModule

__all__ = ["ENCODERS", "SeqPerturb", "SeqPerturbModule"]
