"""Tools: verbs that run analyses and models and write their results into the AnnData (scanpy style)."""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "PerturbationModel": "._perturbation",
        "ResponseModel": "._predict_response",
        "attention_genes": "._attention_similarity",
        "attention_similarity": "._attention_similarity",
        "attribute": "._attribute",
        "drug_smiles": "._drug_smiles",
        "evaluate_patients": "._evaluate_patients",
        "evaluate_perturbation": "._evaluate_perturbation",
        "evaluate_response": "._evaluate_response",
        "map_to_reference": "._map_to_reference",
        "perturbation_distance": "._perturbation_distance",
        "predict_ic50": "._predict_ic50",
        "predict_perturbation": "._perturbation",
        "predict_response": "._predict_response",
        "rank_drugs": "._rank_drugs",
        "response_gene_scores": "._gene_scores",
        "response_pseudotime": "._pseudotime",
        "score_pathways": "._score_pathways",
        "score_states": "._score_states",
        "spatial_response": "._spatial_response",
    },
)
