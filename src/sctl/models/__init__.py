"""Models: deep models in the scvi-tools style (one sub-package each) and the baselines they are compared with.

- bulk to single cell: :class:`PathwayTransfer` :cite:p:`he2025transfer`, :class:`ATSDPNet`
  :cite:p:`zhou2025atsdpnet`, with :func:`transfer_data` preparing bulk and cells for both; :class:`MultiDrugTransfer`
  (sctl), one model of many drugs with general sensitivity and drug-specific response apart;
- perturbation: :class:`GRIP` :cite:p:`xie2026griplung`, :class:`SeqPerturb` :cite:p:`ali2024deep`, :class:`CSG2A`
  :cite:p:`bang2025csg2a`, and :class:`PerturbationEnsemble` (seeds of the deep models averaged with the ridge
  baseline);
- drug response from a perturbation model: :class:`CSG2AIC50`, a pretrained :class:`CSG2A` fine-tuned on ln IC50;
- :mod:`sctl.models.baselines`: naive and classical baselines reported beside every deep model.
"""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CSG2A": ".csg2a",
        "CSG2AIC50": ".csg2a",
        "GRIP": ".grip",
        "MultiDrugTransfer": ".multidrug",
        "multidrug_data": ".multidrug",
        "ATSDPNet": ".atsdp",
        "PathwayTransfer": ".pathway_transfer",
        "PerturbationEnsemble": "._perturbation_ensemble",
        "SeqPerturb": ".seqperturb",
        "baselines": ".baselines",
        "transfer_data": "._transfer._data",
    },
)
