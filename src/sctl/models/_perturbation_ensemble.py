"""Train perturbation models by name, turn any model's prediction into changes, and average several models.

The ensemble follows the lesson of :cite:t:`ahlmanneltze2025linear` that a linear model of the condition is
hard to beat: averaging it with seeds of the deep models (GRIP :cite:p:`xie2026griplung`; the stacked recurrent
model of :cite:t:`ali2024deep`) keeps the linear model's directions and adds what the deep models learn beyond
the average drug effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import preview, to_dense
from sctl.models._io import SaveLoadMixin
from sctl.models._presets import check_preset
from sctl.models.baselines._perturbation import PERTURBATION_BASELINES

#: deep perturbation models that :func:`train_named_model` trains by name
DEEP_MODELS = ("GRIP", "SeqPerturb")
#: members of :class:`PerturbationEnsemble` by default: best on held-out doses and wells of the L1000 plate
ENSEMBLE_MEMBERS = ("GRIP", "SeqPerturb", "ridge")
#: the layers and ``.obs`` columns every member reads: the keyword arguments of :func:`train_named_model`
DATA_KEYS = ("delta_layer", "basal_layer", "drug_key", "dose_key", "cell_line_key")


def train_named_model(
    name: str,
    adata: AnnData,
    *,
    seed: int = 0,
    delta_layer: str,
    basal_layer: str,
    drug_key: str,
    dose_key: str | None,
    cell_line_key: str | None,
    train_kwargs: Mapping[str, Any] | None = None,
    preset: str = "sctl",
) -> Any:
    """Set up and train ``"GRIP"`` or ``"SeqPerturb"``, or fit a naive baseline, on the treated profiles ``adata``.

    The layers and columns (:data:`DATA_KEYS`) are those of the caller (:class:`PerturbationEnsemble`,
    :func:`sctl.tl.evaluate_perturbation`), which owns their defaults. ``adata`` is registered in place
    (``setup_anndata``); ``train_kwargs`` reach the deep models' ``train``;
    ``preset`` (``"sctl"`` or ``"paper"``) their constructor. Under ``"paper"`` SeqPerturb registers every token
    of :cite:t:`ali2024deep` that ``adata.obs`` has (drug id, SMILES); under ``"sctl"`` cell line, drug and dose (why:
    ``docs/methods/seqperturb.md``).
    """
    from sctl.models import GRIP, SeqPerturb

    train_kwargs = dict(train_kwargs or {})
    if name == "GRIP":
        GRIP.setup_anndata(
            adata, basal_layer=basal_layer, cell_line_key=cell_line_key, drug_key=drug_key, dose_key=dose_key
        )
        model = GRIP(adata, preset=preset, seed=seed)
        model.train(**{"seed": seed, **train_kwargs})
        return model
    if name == "SeqPerturb":
        tokens = "auto" if preset == "paper" else None
        SeqPerturb.setup_anndata(
            adata,
            layer=delta_layer,
            cell_line_key=cell_line_key,
            drug_key=drug_key,
            drug_id_key=tokens,
            smiles_key=tokens,
            dose_key=dose_key,
        )
        model = SeqPerturb(adata, preset=preset, seed=seed)
        model.train(**{"seed": seed, **train_kwargs})
        return model
    if name in PERTURBATION_BASELINES:
        dose = dose_key if dose_key is not None and dose_key in adata.obs.columns else None
        baseline = PERTURBATION_BASELINES[name](
            delta_layer=delta_layer, drug_key=drug_key, dose_key=dose, cell_line_key=cell_line_key
        )
        return baseline.fit(adata)
    raise ValueError(_unknown(name))


def _unknown(name: str) -> str:
    known = ", ".join(map(repr, (*DEEP_MODELS, *PERTURBATION_BASELINES)))
    return f"Unknown member {name!r}; name one of {known}, or pass a mapping name -> factory."


def predicted_changes(
    model: Any, adata: AnnData, predict_kwargs: Mapping[str, Any], basal_layer: str
) -> tuple[pd.Index, np.ndarray | None, np.ndarray, str]:
    """Genes, predicted profiles (``None`` without basal layer), predicted changes (float64) and the model's kind."""
    predicted = model.predict(adata, **predict_kwargs)
    if not isinstance(predicted, pd.DataFrame):
        raise TypeError(
            f"The model's `predict` must return a DataFrame with gene names, got {type(predicted).__name__}."
        )
    if len(predicted) != adata.n_obs:
        raise ValueError(f"The model predicted {len(predicted)} rows for {adata.n_obs} observations.")
    kind = getattr(model, "predicts", "profile")
    genes = predicted.columns
    basal = _basal(adata, basal_layer, genes)
    values = predicted.to_numpy(dtype=np.float64)
    if kind == "profile":
        if basal is None:
            raise KeyError(f"No basal profiles in `adata.layers[{basal_layer!r}]`; run `sctl.pp.match_controls` first.")
        return genes, values, values - basal, kind
    return genes, None if basal is None else basal + values, values, kind


@doc_params()
class PerturbationEnsemble(SaveLoadMixin):
    """Mean of the changes predicted by several perturbation models, each averaged over seeds.

    Every member predicts the change ``Δx`` of each profile (GRIP's predicted profile minus the basal profile);
    a deep member is trained ``n_seeds`` times with seeds ``seed, seed + 1, ...`` and its predictions averaged
    first, then the members are averaged with equal weights. The default members are GRIP and SeqPerturb (3
    seeds each) beside the ridge regression on the condition; how they compare on the L1000 plate is in
    ``docs/methods/evaluation.md``. Like GRIP and SeqPerturb, it predicts only drugs and cell lines seen in
    training unless every member can do more. :meth:`save` stores the baselines' fitted arrays as tensors and
    every seed of a deep member in a sub-directory by its own ``save``; an ensemble of factories cannot be saved
    by name (save their models apart).

    Parameters
    ----------
    members
        Names (``"GRIP"``, ``"SeqPerturb"``, or a naive baseline: ``"ridge"``, ``"mean_shift"``,
        ``"per_drug_mean"``, ``"zero_change"``) or a mapping from name to a factory
        ``f(train_adata, seed) -> trained model`` (any model with ``predict(adata, drug=, dose=)`` and
        ``predicts = "profile"`` or ``"delta"``, such as :class:`sctl.models.CSG2A` behind a small wrapper).
    n_seeds
        Trainings of every deep member or factory (the naive baselines are deterministic and fitted once).
    seed
        First seed.
    delta_layer, basal_layer
        Layers with the observed changes (:func:`sctl.pp.log_fold_change`) and the basal profiles
        (:func:`sctl.pp.match_controls`).
    drug_key, dose_key, cell_line_key
        Columns of ``adata.obs``.
    preset
        Preset of the named deep members (``"sctl"`` or ``"paper"``, see :class:`sctl.models.GRIP` and
        :class:`sctl.models.SeqPerturb`).

    Examples
    --------
    {plate_with_delta}
    >>> treated = plate[~plate.obs["is_control"]].copy()
    >>> ensemble = sctl.models.PerturbationEnsemble().fit(treated)  # doctest: +SKIP
    >>> sctl.tl.predict_perturbation(treated, ensemble, "vemurafenib", dose=1.0)  # doctest: +SKIP
    """

    predicts = "delta"  # what `predict` returns, read by sctl.tl.predict_perturbation

    def __init__(
        self,
        members: Sequence[str] | Mapping[str, Callable[[AnnData, int], Any]] = ENSEMBLE_MEMBERS,
        *,
        n_seeds: int = 3,
        seed: int = 0,
        delta_layer: str = "sctl_delta",
        basal_layer: str = "sctl_basal",
        drug_key: str = "drug",
        dose_key: str | None = "dose",
        cell_line_key: str | None = "cell_line",
        preset: str = "sctl",
    ):
        if n_seeds < 1:
            raise ValueError(f"`n_seeds` must be at least 1, got {n_seeds}.")
        if isinstance(members, str):
            members = [members]
        if len(members) == 0:
            raise ValueError("Name at least one member, e.g. members=('GRIP', 'SeqPerturb', 'ridge').")
        unknown = [] if isinstance(members, Mapping) else set(members) - {*DEEP_MODELS, *PERTURBATION_BASELINES}
        if unknown:
            raise ValueError(_unknown(sorted(unknown)[0]))
        self.members, self.n_seeds, self.seed = members, n_seeds, seed
        self.delta_layer, self.basal_layer = delta_layer, basal_layer
        self.drug_key, self.dose_key, self.cell_line_key = drug_key, dose_key, cell_line_key
        self.preset = check_preset(preset)
        self._record_init_params(locals(), members=members if isinstance(members, Mapping) else list(members))

    def __repr__(self) -> str:
        return (
            f"PerturbationEnsemble(members={list(self.members)}, n_seeds={self.n_seeds}, seed={self.seed}, "
            f"preset={self.preset!r})"
        )

    def fit(self, adata: AnnData, train_kwargs: Mapping[str, Any] | None = None) -> PerturbationEnsemble:
        """Train every member on the treated profiles ``adata`` (a copy is registered for each deep model).

        Parameters
        ----------
        adata
            Treated profiles with the changes and basal profiles in ``delta_layer`` and ``basal_layer``.
        train_kwargs
            Passed to ``train`` of the named deep models (e.g. ``{"enable_progress_bar": False}``).

        Returns
        -------
        The fitted ensemble; its trained models are in ``models_`` (name -> list over seeds).
        """
        keys = self._keys()
        self.models_: dict[str, list[Any]] = {}
        for name in self.members:
            if isinstance(self.members, Mapping):
                factory = self.members[name]
                self.models_[name] = [factory(adata.copy(), self.seed + k) for k in range(self.n_seeds)]
            elif name in PERTURBATION_BASELINES:
                self.models_[name] = [train_named_model(name, adata, **keys)]
            else:
                self.models_[name] = [
                    train_named_model(
                        name, adata.copy(), seed=self.seed + k, train_kwargs=train_kwargs, preset=self.preset, **keys
                    )
                    for k in range(self.n_seeds)
                ]
        return self

    def predict(self, adata: AnnData, *, drug: Any = None, dose: Any = None) -> pd.DataFrame:
        """Mean predicted change of every observation (``drug`` / ``dose`` override ``adata.obs``).

        Returns
        -------
        Observations x genes; the genes every member predicts, in the first member's order.
        """
        if not hasattr(self, "models_"):
            raise RuntimeError("The ensemble is not fitted; call `fit(adata)` first.")
        kwargs = {"drug": drug, "dose": dose}
        means = [self._member_mean(models, adata, kwargs) for models in self.models_.values()]
        genes = means[0].columns
        for mean in means[1:]:
            genes = genes[genes.isin(mean.columns)]
        if len(genes) == 0:
            raise ValueError(f"The members predict no gene in common, e.g. {preview(means[0].columns, 5)}.")
        return sum(mean[genes] for mean in means) / len(means)

    def _check_saveable(self) -> None:
        if not hasattr(self, "models_"):
            raise RuntimeError("The ensemble is not fitted; call `fit(adata)` before `save`.")
        if isinstance(self.members, Mapping):
            raise TypeError("An ensemble of factories cannot be saved by name; save each member's models apart.")

    def _state_dict(self) -> dict[str, Any]:
        """The fitted arrays of the baselines, as tensors (the deep members are saved apart, by ``_save_parts``)."""
        return {name: self.models_[name][0].get_state()[0] for name in _baselines(self.models_)}

    def _extra_state(self) -> dict[str, Any]:
        return {"baselines": {name: self.models_[name][0].get_state()[1] for name in _baselines(self.models_)}}

    def _save_parts(self, path: Path, overwrite: bool) -> None:
        """Each seed of a deep member in its own sub-directory, ``<member>_<k>``, by its own ``save``."""
        for name, models in self.models_.items():
            if name not in PERTURBATION_BASELINES:
                for k, model in enumerate(models):
                    model.save(path / f"{name}_{k}", overwrite=overwrite)

    @classmethod
    def _rebuild(cls, meta: dict[str, Any], state: dict[str, Any]) -> Self:
        ensemble = cls(**meta["init"])
        ensemble.models_ = {
            name: [PERTURBATION_BASELINES[name].from_state(state[name], meta["baselines"][name])]
            for name in _baselines(ensemble.members)
        }
        return ensemble

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        """Nothing left to load: ``_rebuild`` built each baseline from its tensors."""

    def _restore_extra_state(self, meta: dict[str, Any], path: Path) -> None:
        """Load each seed of the deep members from its sub-directory; keep the members in their saved order."""
        from sctl.models import GRIP, SeqPerturb

        deep = {"GRIP": GRIP, "SeqPerturb": SeqPerturb}
        self.models_ = {
            name: self.models_[name]
            if name in PERTURBATION_BASELINES
            else [deep[name].load(path / f"{name}_{k}") for k in range(self.n_seeds)]
            for name in self.members
        }

    def _keys(self) -> dict[str, Any]:
        """The layers and ``.obs`` columns every member reads (:data:`DATA_KEYS`)."""
        return {key: getattr(self, key) for key in DATA_KEYS}

    def _member_mean(self, models: list[Any], adata: AnnData, kwargs: dict[str, Any]) -> pd.DataFrame:
        """Mean predicted change over one member's seeds."""
        genes, _, total, _ = predicted_changes(models[0], adata, kwargs, self.basal_layer)
        for model in models[1:]:
            more, _, delta, _ = predicted_changes(model, adata, kwargs, self.basal_layer)
            total = total + pd.DataFrame(delta, columns=more).reindex(columns=genes).to_numpy()
        return pd.DataFrame(total / len(models), index=adata.obs_names.copy(), columns=genes)


def _baselines(names: Sequence[str]) -> list[str]:
    """The naive baselines among the members ``names``, in order."""
    return [name for name in names if name in PERTURBATION_BASELINES]


def _basal(adata: AnnData, basal_layer: str, genes: pd.Index) -> np.ndarray | None:
    if basal_layer not in adata.layers:
        return None
    order = adata.var_names.get_indexer(genes)
    if (order < 0).any():
        raise ValueError(f"The model predicts genes that `adata` lacks, e.g. {preview(genes[order < 0], 5)}.")
    return to_dense(adata.layers[basal_layer], np.float64)[:, order]
