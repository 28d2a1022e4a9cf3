"""Prediction and pickle-free save / load of a trained :class:`~sctl.models.MultiDrugTransfer`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from sklearn.exceptions import NotFittedError

from sctl._stream import check_chunk_size, map_rows
from sctl.models._transfer._data import BULK, CELLS
from sctl.models._transfer._predict import PREDICT_CHUNK, gene_standardizer, user_rows
from sctl.models.multidrug._calibration import Calibration


class MultiDrugSurface:
    """What a trained :class:`~sctl.models.MultiDrugTransfer` offers: predictions, save and load.

    The model provides ``module`` (with ``responses(x)``), ``drugs``, ``drug``, ``_check_drug``, ``var_names``,
    ``standardize_rows_`` and ``calibration_``.
    """

    # ------------------------------------------------------------ predict
    def _check_trained(self) -> None:
        if not getattr(self, "is_trained_", False):
            raise NotFittedError("This MultiDrugTransfer is not trained yet: call .train() first.")

    @torch.no_grad()
    def _scores(self, X: np.ndarray) -> np.ndarray:
        """``[g, s_1, ..., s_D]`` of model-ready rows."""
        self.module.eval()
        device = next(self.module.parameters()).device
        return self.module.responses(torch.as_tensor(X, device=device)).cpu().numpy()

    @staticmethod
    def _z(scores: np.ndarray) -> np.ndarray:
        return scores[:, :1] + scores[:, 1:]

    def _stream(self, adata: AnnData, layer: str | None, standardize: bool, chunk_size: int) -> np.ndarray:
        """``[g, s_1, ..., s_D]`` of every row of ``adata``, read, standardised and scored ``chunk_size`` at a time.

        With ``standardize``, a first pass computes each gene's mean and standard deviation over ``adata`` (the
        per-domain z-score the model was trained with); a backed AnnData is streamed from disk.
        """
        self._check_trained()
        chunk_size = check_chunk_size(chunk_size)
        rows = user_rows(self, adata, layer, standardize)
        standardized = gene_standardizer(rows, standardize, chunk_size)

        def score(start: int, block: np.ndarray) -> np.ndarray:
            return self._scores(standardized(block))

        return map_rows(rows, score, chunk_size, np.float32, empty_shape=(0, len(self.drugs) + 1))

    def predict(
        self,
        adata: AnnData,
        drug: str | None = None,
        layer: str | None = None,
        *,
        standardize: bool = True,
        chunk_size: int = PREDICT_CHUNK,
    ) -> np.ndarray | pd.DataFrame:
        """Probability that each cell is sensitive to ``drug`` (or to every drug). Writes nothing.

        Parameters
        ----------
        adata
            The user's cells x genes, raw (log-normalised or scaled), holding every gene of the model. Its genes
            are z-scored on ``adata`` itself, as the model's cells were: score a whole sample at once. May be
            opened with ``anndata.read_h5ad(path, backed="r")``: it is then streamed from disk.
        drug
            A drug of :attr:`drugs`; ``None``: the drug bound with ``drug=`` at construction, else every drug.
        layer
            Layer of ``adata`` with the expression (``None``: ``X``).
        standardize
            ``False`` when ``adata`` is already standardised as the model's training cells were.
        chunk_size
            Rows read, densified and scored at a time.

        Returns
        -------
        For one drug, an array of shape ``(n_obs,)`` in [0, 1]; otherwise :meth:`predict_all`'s DataFrame.
        """
        drug = self.drug if drug is None else self._check_drug(drug)
        if drug is None:
            return self.predict_all(adata, layer, standardize=standardize, chunk_size=chunk_size)
        scores = self._stream(adata, layer, standardize, chunk_size)
        j = self.drugs.get_loc(drug)
        return self.calibration_.probability(scores[:, 0] + scores[:, 1 + j], [j]).ravel()

    def predict_all(
        self, adata: AnnData, layer: str | None = None, *, standardize: bool = True, chunk_size: int = PREDICT_CHUNK
    ) -> pd.DataFrame:
        """Probability that each cell is sensitive to each drug: cells x :attr:`drugs` (inputs as :meth:`predict`)."""
        z = self._z(self._stream(adata, layer, standardize, chunk_size))
        proba = self.calibration_.probability(z, np.arange(len(self.drugs)))
        return pd.DataFrame(proba, index=adata.obs_names.copy(), columns=self.drugs.copy())

    def get_general_sensitivity(
        self, adata: AnnData, layer: str | None = None, *, standardize: bool = True, chunk_size: int = PREDICT_CHUNK
    ) -> np.ndarray:
        """Predicted general sensitivity ``g`` of each cell, shape ``(n_obs,)``: a mean z-score, low = sensitive."""
        return self._stream(adata, layer, standardize, chunk_size)[:, 0].astype(np.float64)

    def get_specific_response(
        self, adata: AnnData, layer: str | None = None, *, standardize: bool = True, chunk_size: int = PREDICT_CHUNK
    ) -> pd.DataFrame:
        """Predicted drug-specific response ``s_d`` of each cell, cells x :attr:`drugs` (low = more sensitive)."""
        scores = self._stream(adata, layer, standardize, chunk_size)[:, 1:].astype(np.float64)
        return pd.DataFrame(scores, index=adata.obs_names.copy(), columns=self.drugs.copy())

    # ---------------------------------------------------------- save/load (hooks of models._io.SaveLoadMixin)
    _saved_fields = ("setup", "var_names", "drugs", "calibration")

    def _extra_state(self) -> dict[str, Any]:
        return {
            "setup": self._setup_args,
            "var_names": list(self.var_names),
            "drugs": list(self.drugs),
            "standardize_rows": self.standardize_rows_,
            "calibration": self.calibration_.to_dict(),
        }

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, Any]) -> Self:
        placeholder = _placeholder(meta)
        cls.setup_anndata(placeholder, **meta["setup"])
        return cls(placeholder, **meta["init"])

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        self.standardize_rows_ = bool(meta["standardize_rows"])
        self.calibration_ = Calibration.from_dict(meta["calibration"], len(self.drugs))


def _placeholder(meta: dict[str, Any]) -> AnnData:
    """Four rows (two lines, two cells) with the saved genes, drugs and setup, to rebuild a model on."""
    setup = meta["setup"]
    bulk = setup.get("bulk_value", BULK)
    names = [f"placeholder{i}" for i in range(4)]
    columns = {setup["domain_key"]: [bulk, CELLS, bulk, CELLS], setup["general_key"]: [0.0, np.nan] * 2}
    obs = pd.DataFrame(columns, index=names)
    X = np.zeros((4, len(meta["var_names"])), dtype=np.float32)
    adata = AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(meta["var_names"], dtype=str)))
    adata.obsm[setup["response_key"]] = pd.DataFrame(0.0, index=names, columns=pd.Index(meta["drugs"], dtype=str))
    if setup.get("layer") is not None:
        adata.layers[setup["layer"]] = X.copy()
    return adata
