"""Tools: verbs that run analyses and models and write their results into the AnnData (scanpy style)."""

from ._attention_similarity import attention_genes, attention_similarity
from ._attribute import attribute
from ._evaluate_patients import evaluate_patients
from ._evaluate_response import evaluate_response
from ._gene_scores import response_gene_scores
from ._map_to_reference import map_to_reference
from ._perturbation import PerturbationModel, evaluate_perturbation, predict_perturbation
from ._perturbation_distance import perturbation_distance
from ._predict_ic50 import predict_ic50
from ._predict_response import ResponseModel, predict_response
from ._pseudotime import response_pseudotime
from ._rank_drugs import rank_drugs
from ._score_pathways import score_pathways
from ._score_states import score_states
from ._spatial_response import spatial_response

__all__ = [
    "PerturbationModel",
    "ResponseModel",
    "attention_genes",
    "attention_similarity",
    "attribute",
    "evaluate_patients",
    "evaluate_perturbation",
    "evaluate_response",
    "map_to_reference",
    "perturbation_distance",
    "predict_ic50",
    "predict_perturbation",
    "predict_response",
    "rank_drugs",
    "response_gene_scores",
    "response_pseudotime",
    "score_pathways",
    "score_states",
    "spatial_response",
]
