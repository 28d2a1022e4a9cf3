"""Benchmark perturbation models against naive baselines: cross-validation on held-out profiles, doses, drugs, lines."""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, get_matrix, preview, to_dense
from sctl.metrics import perturbation_report
from sctl.models._perturbation_ensemble import DEEP_MODELS, PerturbationEnsemble, predicted_changes, train_named_model
from sctl.models._presets import check_preset
from sctl.models.baselines._perturbation import PERTURBATION_BASELINES
from sctl.pp._split import _group_folds
from sctl.tl._perturbation import PerturbationModel

logger = logging.getLogger(__name__)

EVAL_SCHEMES = ("mixed", "dose", "drug_blind", "cell_blind", "disjoint")
EVALUATE_KEY = "sctl_evaluate_perturbation"
ENSEMBLE = "ensemble"  # the named sctl.models.PerturbationEnsemble of evaluate_perturbation
TABLE_COLUMNS = ["scheme", "fold", "model", "metric", "value", "n_train", "n_test", "note"]
PER_GROUP_COLUMNS = ["scheme", "fold", "model", "grouping", "group", "metric", "value", "n_test"]


@doc_params()
def evaluate_perturbation(
    adata: AnnData,
    models: Mapping[str, Callable[[AnnData], PerturbationModel]] | Sequence[str] = ("ensemble", "GRIP", "SeqPerturb"),
    scheme: str = "dose",
    *,
    n_folds: int = 3,
    max_folds: int | None = None,
    delta_layer: str = "sctl_delta",
    basal_layer: str = "sctl_basal",
    drug_key: str = "drug",
    dose_key: str | None = "dose",
    cell_line_key: str | None = "cell_line",
    control_key: str = "is_control",
    train_kwargs: Mapping[str, Any] | None = None,
    preset: str = "sctl",
    baselines: bool = True,
    seed: int = 0,
    groupby: str | Sequence[str] | None = None,
    key_added: str | None = EVALUATE_KEY,
) -> pd.DataFrame:
    """Cross-validate perturbation models beside naive baselines on held-out profiles, doses, drugs or cell lines.

    The treated profiles (``adata.obs[control_key]`` False) are split into folds; every model and every baseline
    is fitted on the other folds and scored on the held-out one with :func:`sctl.metrics.perturbation_report` on
    the changes ``Δx`` (``pearson_delta`` correlates the deviations of observed and predicted changes from the
    training mean shift: what a model gets right beyond the average drug effect). The baselines are
    ``zero_change``, ``mean_shift``, ``per_drug_mean``, ``ridge`` (one-hot drug and cell line, log dose and
    drug x log dose) and, when ``adata.uns["sctl_drugs"]`` has a ``smiles`` column, ``nearest_drugs``
    (:class:`sctl.models.baselines.NearestDrugs`: an unseen drug gets the mean change of its structurally
    nearest training drugs; the strongest baseline for held-out drugs).

    Schemes, named as in :func:`sctl.pp.split`: ``"mixed"`` (profiles at random), ``"dose"`` (whole dose levels
    held out: interpolation to new doses), ``"drug_blind"`` (whole drugs: models that embed drugs by identity
    cannot predict and get NaN with a note), ``"cell_blind"`` (whole cell lines) and ``"disjoint"`` (drugs and cell
    lines are each given a fold; a fold tests the profiles whose drug *and* cell line are both in it and trains on
    those with neither in it, so each test profile pairs an unseen drug with an unseen cell line; the profiles with
    only one of the two in the fold are left out of that fold). Under the other schemes a fold may still hold
    every profile of a rare drug: such a model is then scored on the fold's other profiles, and the ``note``
    column says how many it could not score.

    The same metrics are also computed on the held-out profiles of each drug (and each cell line) apart and
    stored with the table in ``adata.uns[key_added]``, for :func:`sctl.pl.perturbation_errors`.

    Parameters
    ----------
    adata
        Profiles x genes with the basal layer and the observed changes (:func:`sctl.pp.match_controls`,
        :func:`sctl.pp.log_fold_change`).
    models
        Names (``"GRIP"`` and ``"SeqPerturb"``, trained with ``preset``; ``"ensemble"``,
        :class:`sctl.models.PerturbationEnsemble` with its default members, 3 seeds of GRIP and of SeqPerturb
        beside the ridge baseline; ``train_kwargs`` passed to ``train`` override the preset), or a mapping
        from name to a factory ``f(train_adata) -> trained model``. The default scores the ensemble beside the
        two models it averages (how they compare on the L1000 plate: ``docs/methods/evaluation.md``).
    scheme
        One of ``"mixed"``, ``"dose"``, ``"drug_blind"``, ``"cell_blind"``, ``"disjoint"``.
    n_folds
        Number of folds (groups are spread over folds as by :func:`sctl.pp.split`).
    max_folds
        Evaluate only the first ``max_folds`` folds (to save time).
    delta_layer, basal_layer
        Layers with the observed changes and the basal profiles.
    drug_key, dose_key, cell_line_key, control_key
        Columns of ``adata.obs``.
    train_kwargs
        Passed to ``train`` of the named models (e.g. ``{"max_epochs": 50}``).
    preset
        Preset of the named models: ``"sctl"`` (sctl's measured defaults) or ``"paper"`` (as their papers
        describe them); see :class:`sctl.models.GRIP` and :class:`sctl.models.SeqPerturb`.
    baselines
        Add the naive baselines.
    seed
        Seed of the folds and of the named models.
    groupby
        Column(s) of ``adata.obs`` whose values get their own metrics (the held-out profiles of each value
        scored apart); ``None``: ``drug_key``, and ``cell_line_key`` when it holds more than one cell line.
    key_added
        Key of ``adata.uns`` for the results; ``None`` writes nothing.

    Returns
    -------
    Tidy table: one row per (fold, model, metric) with columns ``scheme``, ``fold``, ``model``, ``metric``,
    ``value``, ``n_train``, ``n_test`` and ``note``; the metric ``"seconds"`` is the fit time.
    Unless ``key_added`` is ``None``, ``adata.uns[key_added]`` holds ``"table"`` (this table), ``"per_group"``
    (one row per fold, model, ``groupby`` column, group and metric: columns ``scheme``, ``fold``, ``model``,
    ``grouping`` (the column), ``group`` (its value), ``metric``, ``value``, ``n_test``; nothing for a model that
    cannot predict a fold)
    and ``"params"``.

    Examples
    --------
    {plate_with_delta}
    >>> table = sctl.tl.evaluate_perturbation(plate, models=[], scheme="dose", n_folds=3)
    >>> sorted(table["model"].unique())
    ['mean_shift', 'per_drug_mean', 'ridge', 'zero_change']
    >>> plate.uns["sctl_evaluate_perturbation"]["per_group"]["group"].nunique()  # one per drug
    59
    """
    check_anndata(adata)
    if scheme not in EVAL_SCHEMES:
        raise ValueError(f"Unknown scheme {scheme!r}; choose one of {', '.join(map(repr, EVAL_SCHEMES))}.")
    check_preset(preset)
    for layer in (delta_layer, basal_layer):
        get_matrix(adata, layer)
    treated = adata[~_control_flags(adata, control_key)].copy()
    group_keys = _group_keys(treated, groupby, drug_key, cell_line_key)
    folds = _fold_masks(treated, scheme, n_folds, seed, drug_key, dose_key, cell_line_key)
    keys = {
        "delta_layer": delta_layer,
        "basal_layer": basal_layer,
        "drug_key": drug_key,
        "dose_key": dose_key,
        "cell_line_key": cell_line_key,
    }
    factories = _factories(models, train_kwargs or {}, keys, seed, preset)
    if baselines:
        for name, baseline in PERTURBATION_BASELINES.items():
            if baseline.applies_to(adata):
                factories[name] = _named_factory(name, {}, keys, seed, preset)
    rows, group_rows = [], []
    for fold, (in_train, in_test) in enumerate(folds[:max_folds]):
        train, test = treated[in_train].copy(), treated[in_test].copy()
        groups = {key: test.obs[key].astype(str).to_numpy() for key in group_keys}
        seen = _seen_conditions(train, test, [k for k in (drug_key, cell_line_key) if k in test.obs.columns])
        for name, factory in factories.items():
            scored, per_group = _score(name, factory, train, test, delta_layer, basal_layer, scheme, fold, groups, seen)
            rows += scored
            group_rows += per_group
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if key_added is not None:
        adata.uns[key_added] = {
            "table": table.copy(),
            "per_group": pd.DataFrame(group_rows, columns=PER_GROUP_COLUMNS),
            "params": {
                "models": [models] if isinstance(models, str) else list(models),
                "scheme": scheme,
                "n_folds": int(n_folds),
                "max_folds": max_folds,
                "groupby": group_keys,
                "delta_layer": delta_layer,
                "basal_layer": basal_layer,
                "baselines": bool(baselines),
                "seed": int(seed),
                "preset": preset,
            },
        }
    return table


def _score(
    name: str,
    factory: Any,
    train: AnnData,
    test: AnnData,
    delta_layer: str,
    basal_layer: str,
    scheme: str,
    fold: int,
    groups: Mapping[str, np.ndarray],
    seen: np.ndarray,
) -> tuple[list[tuple], list[tuple]]:
    """Rows of the table for one model and fold, and its rows per group (none when it cannot predict).

    A model that cannot predict every test profile (a drug or cell line it never saw, for models that embed them
    by identity) is scored on the profiles whose conditions occur in training (``seen``), with a note.
    """
    observed = to_dense(test.layers[delta_layer], np.float64)
    mean_shift = to_dense(train.layers[delta_layer], np.float64).mean(0)
    start = _time.perf_counter()
    note, group_rows = "", []
    try:
        model = factory(train)
        seconds = _time.perf_counter() - start
        try:
            genes, _, predicted, _ = predicted_changes(model, test, {}, basal_layer)
            rows = np.ones(test.n_obs, dtype=bool)
        except KeyError as error:
            if seen.all() or not seen.any():
                raise
            genes, _, predicted, _ = predicted_changes(model, test[seen], {}, basal_layer)
            rows = seen
            note = f"{(~seen).sum()} of {test.n_obs} profiles not scored (unseen condition: {str(error)[:120]})"
        observed = observed[rows][:, test.var_names.get_indexer(genes)]
        mean_shift = mean_shift[test.var_names.get_indexer(genes)]
        report = perturbation_report(observed, predicted, control_mean=mean_shift)
        for key, labels in groups.items():
            for group in pd.unique(labels[rows]):
                mask = labels[rows] == group
                part = perturbation_report(observed[mask], predicted[mask], control_mean=mean_shift)
                group_rows += [
                    (scheme, fold, name, key, str(group), metric, float(value), int(mask.sum()))
                    for metric, value in part.items()
                ]
    except KeyError as error:  # unseen drug / cell line in every test profile: the model cannot predict this fold
        logger.warning("evaluate_perturbation: %s cannot predict fold %d: %s", name, fold, error)
        seconds, note = _time.perf_counter() - start, f"cannot predict: {str(error)[:200]}"
        report = dict.fromkeys(perturbation_report(observed, observed, control_mean=mean_shift), np.nan)
    report["seconds"] = seconds
    rows = [
        (scheme, fold, name, metric, float(value), train.n_obs, test.n_obs, note) for metric, value in report.items()
    ]
    return rows, group_rows


def _seen_conditions(train: AnnData, test: AnnData, keys: Sequence[str]) -> np.ndarray:
    """Test profiles whose value of every key (drug, cell line) occurs in training."""
    seen = np.ones(test.n_obs, dtype=bool)
    for key in keys:
        seen &= test.obs[key].astype(str).isin(set(train.obs[key].astype(str))).to_numpy()
    return seen


def _group_keys(
    treated: AnnData, groupby: str | Sequence[str] | None, drug_key: str, cell_line_key: str | None
) -> list[str]:
    """Columns scored group by group: ``groupby``, or the drug and (when there are several) the cell line."""
    if groupby is None:
        keys = [drug_key] if drug_key in treated.obs.columns else []
        if cell_line_key is not None and cell_line_key in treated.obs.columns:
            keys += [cell_line_key] if treated.obs[cell_line_key].nunique() > 1 else []
        return keys
    keys = [groupby] if isinstance(groupby, str) else list(groupby)
    for key in keys:
        check_obs_key(treated, key, hint="Pass columns of `adata.obs` as `groupby=`.")
    return keys


def _factories(
    models: Mapping[str, Callable] | Sequence[str],
    train_kwargs: Mapping[str, Any],
    keys: dict[str, Any],
    seed: int,
    preset: str,
) -> dict[str, Callable]:
    if isinstance(models, Mapping):
        return dict(models)
    if isinstance(models, str):
        models = [models]
    for name in models:
        if name not in (*DEEP_MODELS, ENSEMBLE):
            raise ValueError(
                f"Unknown model {name!r}; name 'GRIP', 'SeqPerturb' or 'ensemble', or pass a mapping name -> "
                "factory(train_adata)."
            )
    return {name: _named_factory(name, train_kwargs, keys, seed, preset) for name in models}


def _named_factory(
    name: str, train_kwargs: Mapping[str, Any], keys: dict[str, Any], seed: int, preset: str
) -> Callable:
    def factory(train: AnnData) -> Any:
        if name == ENSEMBLE:
            return PerturbationEnsemble(seed=seed, preset=preset, **keys).fit(train, train_kwargs=train_kwargs)
        return train_named_model(name, train, seed=seed, train_kwargs=train_kwargs, preset=preset, **keys)

    return factory


def _fold_masks(
    treated: AnnData,
    scheme: str,
    n_folds: int,
    seed: int,
    drug_key: str,
    dose_key: str | None,
    cell_line_key: str | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` boolean masks over the treated profiles, one pair per fold."""
    rng = np.random.default_rng(seed)
    if scheme == "mixed":
        if n_folds > treated.n_obs:
            raise ValueError(f"n_folds={n_folds} is more than the {treated.n_obs} treated profiles.")
        fold = np.empty(treated.n_obs, dtype=np.int64)
        fold[rng.permutation(treated.n_obs)] = np.arange(treated.n_obs) % n_folds
        return [(fold != f, fold == f) for f in range(n_folds)]
    if scheme == "disjoint":
        drug_fold = _key_folds(treated, scheme, drug_key, "drug_key", n_folds, rng)
        line_fold = _key_folds(treated, scheme, cell_line_key, "cell_line_key", n_folds, rng)
        return [((drug_fold != f) & (line_fold != f), (drug_fold == f) & (line_fold == f)) for f in range(n_folds)]
    key, argument = {"dose": (dose_key, "dose_key"), "drug_blind": (drug_key, "drug_key")}.get(
        scheme, (cell_line_key, "cell_line_key")
    )
    fold = _key_folds(treated, scheme, key, argument, n_folds, rng)
    return [(fold != f, fold == f) for f in range(n_folds)]


def _key_folds(
    treated: AnnData, scheme: str, key: str | None, argument: str, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """Fold of each profile, whole values of ``obs[key]`` at a time."""
    if key is None:
        raise ValueError(f"scheme={scheme!r} needs `{argument}`, the column of `adata.obs` it splits by.")
    groups = check_obs_key(treated, key).astype(str).to_numpy()
    values = np.unique(groups)
    if len(values) < max(2, n_folds):
        raise ValueError(
            f"scheme={scheme!r} needs at least n_folds={n_folds} (and 2) values of `adata.obs[{key!r}]`, found "
            f"{len(values)}: {preview(values)}. Lower `n_folds` or choose another scheme"
            + (" (on a single cell line, 'drug_blind')." if scheme == "disjoint" else ".")
        )
    return _group_folds(groups, n_folds, rng, f"values of {key!r}")


def _control_flags(adata: AnnData, control_key: str) -> np.ndarray:
    flags = check_obs_key(adata, control_key, hint="It marks the control profiles, which are never tested.")
    return flags.to_numpy(dtype=bool)
