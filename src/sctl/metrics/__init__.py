"""Evaluation metrics as plain functions on arrays.

- classification of sensitive / resistant calls: :func:`accuracy`, :func:`precision`, :func:`recall`,
  :func:`f1`, :func:`auroc`, :func:`average_precision`, :func:`classification_report`;
- regression of continuous responses: :func:`rmse`, :func:`mae`, :func:`pearson`, :func:`spearman`,
  :func:`regression_report` (overall and per drug);
- predicted versus observed per-gene changes: :func:`sign_accuracy`, :func:`direction_accuracy`,
  :func:`mae_by_sign`, :func:`mean_rowwise_rmse`, :func:`pearson_per_row`, :func:`perturbation_report`.
"""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "accuracy": "._classification",
        "auroc": "._classification",
        "average_precision": "._classification",
        "classification_report": "._classification",
        "direction_accuracy": "._perturbation",
        "drug_specificity": "._specificity",
        "f1": "._classification",
        "mae": "._regression",
        "mae_by_sign": "._perturbation",
        "mean_rowwise_rmse": "._perturbation",
        "pearson": "._regression",
        "pearson_per_row": "._perturbation",
        "perturbation_report": "._perturbation",
        "precision": "._classification",
        "recall": "._classification",
        "regression_report": "._regression",
        "rmse": "._regression",
        "sign_accuracy": "._perturbation",
        "spearman": "._regression",
    },
)
