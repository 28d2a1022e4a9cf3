"""Plots that read what :mod:`sctl.tl` wrote; they chain with scanpy's and take ``show=`` / ``save=``."""

from ._attention import attention_map
from ._attention_similarity import attention_similarity
from ._attribution import attribution
from ._drug_ranking import drug_ranking
from ._evaluation import metrics_radar, pr, roc
from ._gene_scores import gene_scores
from ._patients import pathways, patient_response
from ._perturbation import pred_vs_obs
from ._perturbation_errors import perturbation_errors
from ._response import response
from ._spatial import spatial_response
from ._states import states
from ._trajectory import response_trajectory

__all__ = [
    "attention_map",
    "attention_similarity",
    "attribution",
    "drug_ranking",
    "gene_scores",
    "metrics_radar",
    "pathways",
    "patient_response",
    "perturbation_errors",
    "pr",
    "pred_vs_obs",
    "response",
    "response_trajectory",
    "roc",
    "spatial_response",
    "states",
]
