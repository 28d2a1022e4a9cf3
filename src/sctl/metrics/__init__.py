"""Evaluation metrics as plain functions on arrays.

- classification of sensitive / resistant calls: :func:`accuracy`, :func:`precision`, :func:`recall`,
  :func:`f1`, :func:`auroc`, :func:`average_precision`, :func:`classification_report`;
- regression of continuous responses: :func:`rmse`, :func:`mae`, :func:`pearson`, :func:`spearman`,
  :func:`regression_report` (overall and per drug);
- predicted versus observed per-gene changes: :func:`sign_accuracy`, :func:`direction_accuracy`,
  :func:`mae_by_sign`, :func:`mean_rowwise_rmse`, :func:`pearson_per_row`, :func:`perturbation_report`.
"""

from ._classification import accuracy, auroc, average_precision, classification_report, f1, precision, recall
from ._perturbation import (
    direction_accuracy,
    mae_by_sign,
    mean_rowwise_rmse,
    pearson_per_row,
    perturbation_report,
    sign_accuracy,
)
from ._regression import mae, pearson, regression_report, rmse, spearman
from ._specificity import drug_specificity

__all__ = [
    "accuracy",
    "auroc",
    "average_precision",
    "classification_report",
    "direction_accuracy",
    "drug_specificity",
    "f1",
    "mae",
    "mae_by_sign",
    "mean_rowwise_rmse",
    "pearson",
    "pearson_per_row",
    "perturbation_report",
    "precision",
    "recall",
    "regression_report",
    "rmse",
    "sign_accuracy",
    "spearman",
]
