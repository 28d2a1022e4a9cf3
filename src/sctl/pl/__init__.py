"""Plots that read what :mod:`sctl.tl` wrote; they chain with scanpy's and take ``show=`` / ``save=``."""

from ._attribution import attribution
from ._gene_scores import gene_scores
from ._patients import pathways, patient_response
from ._perturbation import pred_vs_obs
from ._response import response
from ._states import states
from ._trajectory import response_trajectory

__all__ = [
    "attribution",
    "gene_scores",
    "pathways",
    "patient_response",
    "pred_vs_obs",
    "response",
    "response_trajectory",
    "states",
]
