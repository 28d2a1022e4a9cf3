"""Naive predictors of per-gene drug-induced changes: the bar every perturbation model must clear.

They follow the advice of drevalpy :cite:p:`bernett2026dreval` to report naive baselines beside every deep
model and the observation of :cite:t:`ahlmanneltze2025linear` that simple linear baselines often match deep
perturbation models. Each predicts the change ``Δx`` (``predicts = "delta"``) of every observation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._docs import doc_params
from sctl._validate import check_obs_key, get_matrix, to_dense
from sctl.models.baselines._drug_neighbours import neighbour_mean, tanimoto

if TYPE_CHECKING:
    import torch


class _DeltaBaseline:
    """Shared fit / predict plumbing: the training changes and their gene names."""

    predicts = "delta"
    _labels: tuple[str, ...] = ()  # fitted lists of names, saved as JSON

    def __init__(
        self,
        delta_layer: str = "sctl_delta",
        drug_key: str = "drug",
        dose_key: str | None = "dose",
        cell_line_key: str | None = "cell_line",
    ):
        self.delta_layer, self.drug_key, self.dose_key, self.cell_line_key = (
            delta_layer,
            drug_key,
            dose_key,
            cell_line_key,
        )

    @classmethod
    def applies_to(cls, adata: AnnData) -> bool:
        """Whether the baseline adds anything on ``adata`` (:func:`sctl.tl.evaluate_perturbation` skips it if not)."""
        return True

    def fit(self, adata: AnnData) -> _DeltaBaseline:
        """Learn from the training profiles' changes ``adata.layers[delta_layer]``."""
        self.var_names_ = adata.var_names.copy()
        self.mean_shift_ = to_dense(get_matrix(adata, self.delta_layer), np.float64).mean(0)
        self._fit(adata, to_dense(get_matrix(adata, self.delta_layer), np.float64))
        return self

    def _fit(self, adata: AnnData, delta: np.ndarray) -> None:
        pass

    def get_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Fitted arrays as tensors and settings as JSON values, what :meth:`from_state` rebuilds the model from."""
        import torch

        arrays = {"mean_shift": self.mean_shift_, **self._arrays()}
        meta = {
            "init": self._init_args(),
            "var_names": list(self.var_names_),
            "labels": {key: list(getattr(self, key)) for key in self._labels},
        }
        return {key: torch.from_numpy(np.asarray(value, dtype=np.float64)) for key, value in arrays.items()}, meta

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> _DeltaBaseline:
        """Rebuild a fitted baseline from :meth:`get_state`'s output."""
        model = cls(**meta["init"])
        model.var_names_ = pd.Index(meta["var_names"])
        model.mean_shift_ = state["mean_shift"].numpy()
        for key in cls._labels:
            setattr(model, key, list(meta["labels"][key]))
        model._set_arrays({key: value.numpy() for key, value in state.items() if key != "mean_shift"})
        return model

    def _init_args(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("delta_layer", "drug_key", "dose_key", "cell_line_key")}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def predict(self, adata: AnnData, drug: str | None = None, dose: float | None = None) -> pd.DataFrame:
        """Predicted change of every observation of ``adata`` (drug / dose override ``adata.obs``)."""
        values = self._predict(_obs(adata, self.drug_key, drug, self.dose_key, dose), adata)
        return pd.DataFrame(values, index=adata.obs_names.copy(), columns=self.var_names_)

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        raise NotImplementedError


@doc_params()
class ZeroChange(_DeltaBaseline):
    """Predict no change at all: the treated profile equals its basal profile.

    Examples
    --------
    {plate_with_delta}
    >>> float(ZeroChange().fit(plate).predict(plate).abs().to_numpy().max())
    0.0
    """

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        return np.zeros((len(obs), len(self.var_names_)))


class MeanShift(_DeltaBaseline):
    """Predict the mean change over all training perturbations, whatever the drug."""

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        return np.tile(self.mean_shift_, (len(obs), 1))


class PerDrugMean(_DeltaBaseline):
    """Predict the mean training change of the drug (of the drug and cell line when both were seen).

    An unseen drug gets the overall mean shift.
    """

    _labels = ("drugs_",)

    def _fit(self, adata: AnnData, delta: np.ndarray) -> None:
        frame = pd.DataFrame(delta)
        self.by_drug_ = frame.groupby(check_obs_key(adata, self.drug_key).astype(str).to_numpy()).mean()
        self.drugs_ = list(self.by_drug_.index)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"by_drug": self.by_drug_.to_numpy()}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.by_drug_ = pd.DataFrame(arrays["by_drug"], index=self.drugs_)

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        table = self.by_drug_.reindex(obs[self.drug_key].astype(str).to_numpy())
        return table.fillna(pd.Series(self.mean_shift_)).to_numpy()


@doc_params()
class NearestDrugs(PerDrugMean):
    """The drug's mean training change; for an unseen drug, that of its structurally nearest training drugs.

    A drug seen in training gets its mean change, as :class:`PerDrugMean`. An unseen drug with a SMILES gets the
    mean change of its ``n_neighbours`` most similar training drugs (Tanimoto similarity of 1,024-bit Morgan
    fingerprints), weighted by the similarity and shrunk toward the mean shift: ``(sum_k s_k m_k + shrinkage *
    mean_shift) / (sum_k s_k + shrinkage)``, the estimate CSG²A's IC50 head uses for an unseen drug's offset. An
    unseen drug without a SMILES gets the mean shift. How it compares with the other baselines on drugs held
    out of the L1000 plate: ``docs/methods/evaluation.md``.

    Parameters
    ----------
    n_neighbours
        Training drugs averaged for an unseen drug.
    shrinkage
        Weight of the mean shift against the summed similarities (each in [0, 1]) of the neighbours.
    smiles
        Drug name -> SMILES; names missing here are looked up in ``adata.uns["sctl_drugs"]["smiles"]`` of the
        training data (and, for unseen drugs, of the data predicted).
    **kwargs
        ``delta_layer``, ``drug_key``, ``dose_key``, ``cell_line_key``.

    Examples
    --------
    {plate_with_delta}
    >>> drugs = sctl.datasets.gdsc().uns["sctl_drugs"].dropna(subset=["lincs_name"])
    >>> smiles = dict(zip(drugs["lincs_name"], drugs["smiles"]))  # 14 of the plate's drugs
    >>> treated = plate[plate.obs["drug"].isin(smiles)]
    >>> model = NearestDrugs(smiles=smiles).fit(treated[treated.obs["drug"] != "trametinib"])
    >>> model.predict(treated[treated.obs["drug"] == "trametinib"]).shape  # from PD-0325901 and its neighbours
    (6, 978)
    """

    def __init__(self, n_neighbours: int = 3, shrinkage: float = 1.0, smiles: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n_neighbours, self.shrinkage, self.smiles = n_neighbours, shrinkage, dict(smiles or {})

    def _init_args(self) -> dict[str, Any]:
        extra = {"n_neighbours": self.n_neighbours, "shrinkage": self.shrinkage, "smiles": self.smiles}
        return {**extra, **super()._init_args()}

    def _fit(self, adata: AnnData, delta: np.ndarray) -> None:
        super()._fit(adata, delta)
        self.smiles = {**_drug_table(adata), **self.smiles}

    @classmethod
    def applies_to(cls, adata: AnnData) -> bool:
        """Only with SMILES in ``adata.uns["sctl_drugs"]``: without them it repeats :class:`PerDrugMean`."""
        return bool(_drug_table(adata))

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        table = super()._predict(obs, adata)  # unseen drugs: the mean shift, replaced below where a SMILES is known
        drugs = obs[self.drug_key].astype(str).to_numpy()
        unseen = [d for d in pd.unique(drugs) if d not in self.by_drug_.index]
        if unseen:
            estimates = self._unseen_drugs(unseen, {**_drug_table(adata), **self.smiles})
            rows = pd.Index(unseen).get_indexer(drugs)
            table[rows >= 0] = estimates[rows[rows >= 0]]
        return table

    def _unseen_drugs(self, drugs: list[str], smiles: dict[str, str]) -> np.ndarray:
        """Neighbour estimates of unseen drugs (the mean shift for those without a SMILES)."""
        out = np.tile(self.mean_shift_, (len(drugs), 1))
        references = [d for d in self.drugs_ if d in smiles]
        queries = [j for j, d in enumerate(drugs) if d in smiles]
        if references and queries:
            fingerprints = pp.featurize_drugs(
                {d: smiles[d] for d in dict.fromkeys([*references, *(drugs[j] for j in queries)])}, kind="morgan"
            ).to_numpy()
            similarity = tanimoto(fingerprints[len(references) :], fingerprints[: len(references)])
            values = self.by_drug_.loc[references].to_numpy()
            out[queries] = neighbour_mean(similarity, values, self.mean_shift_, self.n_neighbours, self.shrinkage)
        return out


class RidgeCondition(_DeltaBaseline):
    """Ridge regression of the change on one-hot drug and cell line, log dose and drug x log dose.

    Parameters
    ----------
    alpha
        Ridge penalty.
    **kwargs
        ``delta_layer``, ``drug_key``, ``dose_key``, ``cell_line_key``.
    """

    _labels = ("drugs_", "lines_")

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def _init_args(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **super()._init_args()}

    def _design(self, obs: pd.DataFrame) -> np.ndarray:
        drugs = pd.Categorical(obs[self.drug_key].astype(str), categories=self.drugs_)
        onehot = pd.get_dummies(drugs).to_numpy(dtype=np.float64)
        parts = [onehot]
        if self.cell_line_key is not None and self.cell_line_key in obs.columns:
            lines = pd.Categorical(obs[self.cell_line_key].astype(str), categories=self.lines_)
            parts.append(pd.get_dummies(lines).to_numpy(dtype=np.float64))
        if self.dose_key is not None:
            log_dose = np.log10(pd.to_numeric(obs[self.dose_key]).to_numpy(dtype=np.float64) + 1e-3)[:, None]
            parts += [log_dose, onehot * log_dose]
        return np.hstack(parts)

    def _fit(self, adata: AnnData, delta: np.ndarray) -> None:
        from sklearn.linear_model import Ridge

        self.drugs_ = sorted(adata.obs[self.drug_key].astype(str).unique())
        has_lines = self.cell_line_key is not None and self.cell_line_key in adata.obs.columns
        self.lines_ = sorted(adata.obs[self.cell_line_key].astype(str).unique()) if has_lines else []
        ridge = Ridge(alpha=self.alpha).fit(self._design(adata.obs), delta)
        self.coef_, self.intercept_ = ridge.coef_, ridge.intercept_

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": self.intercept_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]

    def _predict(self, obs: pd.DataFrame, adata: AnnData) -> np.ndarray:
        return self._design(obs) @ self.coef_.T + self.intercept_


PERTURBATION_BASELINES = {
    "zero_change": ZeroChange,
    "mean_shift": MeanShift,
    "per_drug_mean": PerDrugMean,
    "nearest_drugs": NearestDrugs,
    "ridge": RidgeCondition,
}


def _obs(adata: AnnData, drug_key: str, drug: str | None, dose_key: str | None, dose: float | None) -> pd.DataFrame:
    obs = adata.obs.copy()
    if drug is not None:
        obs[drug_key] = drug
    if dose is not None and dose_key is not None:
        obs[dose_key] = dose
    check_obs_key(adata, drug_key) if drug is None else None
    return obs


def _drug_table(adata: AnnData) -> dict[str, str]:
    """SMILES by drug of ``adata.uns["sctl_drugs"]`` (imported here: the CSG²A package loads torch and scvi-tools)."""
    from sctl.models.csg2a._data import drug_table

    return drug_table(adata)
