"""Prediction of the transfer models on a user's raw cells, streamed in chunks (backed AnnData included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from anndata import AnnData
from sklearn.exceptions import NotFittedError

from sctl._docs import doc_params
from sctl._stream import (
    Rows,
    check_chunk_size,
    column_mean_std,
    iter_dense,
    map_rows,
    rows_of,
    zscore_block,
    zscore_params,
)
from sctl._validate import check_anndata, check_unique_var_names, check_var_names
from sctl.models._transfer._data import _DOMAIN_CODE

#: rows read, densified and scored at a time by ``predict`` / ``get_latent_representation``
PREDICT_CHUNK = 4096


def user_rows(model: Any, adata: AnnData, layer: str | None, standardize: bool) -> Rows:
    """The rows of a user's ``adata`` in ``model.var_names`` order, nothing read yet, once its genes are checked.

    With ``standardize`` and a model trained on profile-wise z-scores (``model.standardize_rows_``), each row is
    z-scored across the model's genes as it is read.
    """
    check_anndata(adata)
    check_var_names(adata, model.var_names, what=f"this {type(model).__name__}")
    check_unique_var_names(adata)
    rows = rows_of(adata, layer, model.var_names)
    return replace(
        rows,
        what=f"the expression of `adata` ({rows.what})",
        standardize_rows=standardize and model.standardize_rows_,
    )


def gene_standardizer(rows: Rows, standardize: bool, chunk_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """The map of a block of ``rows`` to its per-gene z-scores over all ``rows`` (identity without ``standardize``).

    The genes' means and standard deviations take one pass over ``rows``, ``chunk_size`` at a time.
    """
    if not standardize:
        return lambda block: block
    center, scale = zscore_params(*column_mean_std(rows, chunk_size))
    return lambda block: zscore_block(block, center, scale)


class StreamedPredictionMixin:
    """``predict`` and ``get_latent_representation`` of a transfer model, reading the rows a chunk at a time.

    The model's module has ``encode(x, domain)`` and ``predict_logits(x, domain)``.
    """

    def _check_trained(self) -> None:
        if not getattr(self, "is_trained_", False):
            raise NotFittedError(f"This {type(self).__name__} is not trained yet: call .train() first.")

    def _input_rows(self, adata: AnnData | None, layer: str | None, standardize: bool) -> tuple[Rows, np.ndarray]:
        """The rows to predict (nothing read yet) and their domain codes (0 bulk, 1 cells).

        With ``standardize`` and a model trained on profile-wise z-scores, the user's rows are z-scored across the
        model's genes as they are read.
        """
        if adata is None:
            rows = rows_of(self.adata, self._setup_args["layer"])
            return rows, self.adata.obs[_DOMAIN_CODE].to_numpy(dtype=np.float32)
        return user_rows(self, adata, layer, standardize), np.ones(adata.n_obs, np.float32)

    def _stream(
        self,
        fn: Any,
        adata: AnnData | None,
        layer: str | None,
        standardize: bool,
        chunk_size: int,
    ) -> np.ndarray:
        """Apply ``fn(x, domain)`` to chunks of model-ready rows, read ``chunk_size`` at a time, and join them.

        With ``standardize`` (and a user's ``adata``) a first pass computes each gene's mean and standard
        deviation over all rows; the second standardises and scores one chunk at a time. Neither holds the
        whole matrix, so an AnnData opened with ``backed="r"`` is streamed from disk.
        """
        chunk_size = check_chunk_size(chunk_size)
        rows, domain = self._input_rows(adata, layer, standardize)
        standardized = gene_standardizer(rows, standardize and adata is not None, chunk_size)

        def score(start: int, block: np.ndarray) -> np.ndarray:
            return self._batched(fn, standardized(block), domain[start : start + len(block)], batch_size=chunk_size)

        return map_rows(rows, score, chunk_size, np.float32)

    def _input_matrix(
        self, adata: AnnData | None, layer: str | None, standardize: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model-ready rows and their domain codes (0 bulk, 1 cells), whole in memory (small data only)."""
        rows, domain = self._input_rows(adata, layer, standardize)
        X = np.zeros((rows.n_obs, rows.n_vars), dtype=np.float32)
        standardized = gene_standardizer(rows, standardize and adata is not None, PREDICT_CHUNK)
        for start, block in iter_dense(rows, PREDICT_CHUNK, np.float32):
            X[start : start + len(block)] = standardized(block)
        return X, domain

    @torch.no_grad()
    def _batched(self, fn: Any, X: np.ndarray, domain: np.ndarray, batch_size: int = PREDICT_CHUNK) -> np.ndarray:
        self.module.eval()
        device = next(self.module.parameters()).device
        out = [
            fn(
                torch.as_tensor(X[i : i + batch_size], device=device),
                torch.as_tensor(domain[i : i + batch_size], device=device),
            )
            .cpu()
            .numpy()
            for i in range(0, len(X), batch_size)
        ]
        return np.concatenate(out) if out else np.empty((0,))

    @doc_params()
    def predict(
        self,
        adata: AnnData | None = None,
        *,
        layer: str | None = None,
        standardize: bool = True,
        chunk_size: int = PREDICT_CHUNK,
    ) -> np.ndarray:
        """Probability that each cell is sensitive. Writes nothing.

        Parameters
        ----------
        adata
            The user's cells x genes, raw as given to :func:`sctl.models.transfer_data` (log-normalised or
            scaled); it must hold every gene of the model (others are ignored). Its genes are z-scored on
            ``adata`` itself, the per-domain standardisation the model was trained with: so score a whole sample
            (hundreds of cells) at once, not one cell at a time. ``None``: every row of the training data,
            bulk rows through the bulk path. May be opened with ``anndata.read_h5ad(path, backed="r")``
            (dense or sparse): it is then streamed from disk, never loaded whole.
        {layer}
        standardize
            ``False`` when ``adata`` is already standardised as the model's training cells were (z-scored per
            gene, and per profile first for a model trained with ``transfer_data(standardize_rows=True)``).
        chunk_size
            Rows read, densified and scored at a time; bounds the memory to about ``chunk_size x n_genes``
            floats (twice that while standardising), whatever the number of cells.

        Returns
        -------
        Array of shape ``(n_obs,)`` in [0, 1].
        """
        self._check_trained()
        proba = self._stream(
            lambda x, d: torch.sigmoid(self.module.predict_logits(x, d)), adata, layer, standardize, chunk_size
        )
        return proba.astype(np.float64)

    def get_latent_representation(
        self,
        adata: AnnData | None = None,
        *,
        layer: str | None = None,
        standardize: bool = True,
        chunk_size: int = PREDICT_CHUNK,
    ) -> np.ndarray:
        """Embedding the classifier reads, one row per observation (same inputs as :meth:`predict`).

        Each row goes through the encoder of its own domain, standardised as :meth:`predict` standardises it.

        Returns
        -------
        Array of shape ``(n_obs, n_latent)``.
        """
        self._check_trained()
        return self._stream(self.module.encode, adata, layer, standardize, chunk_size)
