"""Models: deep models in the scvi-tools style (one sub-package each) and the baselines they are compared with.

- bulk to single cell: :class:`PathwayTransfer` (He et al. 2025), :class:`ATSDPNet` (Zhou et al. 2025), with
  :func:`transfer_data` preparing bulk and cells for both; :class:`MultiDrugTransfer` (sctl), one model of
  many drugs with general sensitivity and drug-specific response apart;
- perturbation: :class:`GRIP` (GRIP-Lung), :class:`SeqPerturb` (Ali et al.), :class:`CSG2A` (Bang et al.), and
  :class:`PerturbationEnsemble` (seeds of the deep models averaged with the ridge baseline);
- :mod:`sctl.models.baselines`: naive and classical baselines reported beside every deep model.
"""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CSG2A": ".csg2a",
        "GRIP": ".grip",
        "MultiDrugTransfer": ".multidrug",
        "ATSDPNet": ".atsdp",
        "PathwayTransfer": ".pathway_transfer",
        "PerturbationEnsemble": "._perturbation_ensemble",
        "SeqPerturb": ".seqperturb",
        "baselines": ".baselines",
        "multidrug_data": ".multidrug",
        "transfer_data": "._transfer",
    },
)
