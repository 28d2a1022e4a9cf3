"""Models: deep models in the scvi-tools style (one sub-package each) and the baselines they are compared with.

- bulk to single cell: :class:`PathwayTransfer` (He et al. 2025), :class:`ATSDPNet` (Zhou et al. 2025), with
  :func:`transfer_data` preparing bulk and cells for both;
- perturbation: :class:`GRIP` (GRIP-Lung), :class:`SeqPerturb` (Ali et al.), :class:`CSG2A` (Bang et al.), and
  :class:`PerturbationEnsemble` (seeds of the deep models averaged with the ridge baseline);
- :mod:`sctl.models.baselines`: naive and classical baselines reported beside every deep model.
"""

from . import baselines
from ._perturbation_ensemble import PerturbationEnsemble
from ._transfer import transfer_data
from .atsdp import ATSDPNet
from .csg2a import CSG2A
from .grip import GRIP
from .pathway_transfer import PathwayTransfer
from .seqperturb import SeqPerturb

__all__ = [
    "CSG2A",
    "GRIP",
    "ATSDPNet",
    "PathwayTransfer",
    "PerturbationEnsemble",
    "SeqPerturb",
    "baselines",
    "transfer_data",
]
