"""Plots that read what :mod:`sctl.tl` wrote; they chain with scanpy's and take ``show=`` / ``save=``."""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "attention_map": "._attention",
        "attention_similarity": "._attention_similarity",
        "attribution": "._attribution",
        "drug_ranking": "._drug_ranking",
        "drug_screen": "._drug_screen",
        "gene_scores": "._gene_scores",
        "metrics_radar": "._evaluation",
        "pathways": "._patients",
        "patient_response": "._patients",
        "perturbation_errors": "._perturbation_errors",
        "pr": "._evaluation",
        "pred_vs_obs": "._perturbation",
        "response": "._response",
        "response_trajectory": "._trajectory",
        "roc": "._evaluation",
        "spatial_response": "._spatial",
        "states": "._states",
    },
)
