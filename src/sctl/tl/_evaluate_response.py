"""Evaluate drug-response classifiers: CV on bulk lines, transfer to labelled cells, CV over labelled cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import pp
from .._constants import LABEL_KEY, MIN_SHARED_GENES, RESISTANT, RESPONSE_CATEGORIES, SENSITIVE
from .._stream import zscore_rows
from .._validate import check_anndata, check_drug, check_obs_key, closest, float_dtype, get_matrix, preview, to_dense
from ..metrics import classification_report
from ..models.baselines import BASELINES, get_baseline
from ._predict_response import predict_response
from ._response_methods import TRANSFER_METHODS, check_probabilities

EVALUATE_RESPONSE_KEY = "sctl_evaluate_response"
BULK_CV, TRANSFER, CELLS_CV = "bulk_cv", "transfer", "cells_cv"
#: evaluation protocols: sctl's reference protocol (bulk CV + transfer) and the cell-level CV of ATSDP-NET
REFERENCE = "reference"
PROTOCOLS = (REFERENCE, CELLS_CV)
#: folds and seeds of each protocol when not given: ATSDP-NET's 10-fold CV repeated with 10 seeds for "cells_cv"
DEFAULT_FOLDS_SEEDS = {REFERENCE: (5, (0, 1, 2, 3, 4)), CELLS_CV: (10, tuple(range(10)))}
#: metrics of every setting, in the order of the tables (the keys of :func:`sctl.metrics.classification_report`)
METRICS = ("precision", "recall", "f1", "auroc", "ap", "accuracy")
_FOLD_KEY = "_sctl_evaluate_fold"
_REGRESSORS = ("ridge",)  # baselines that predict a number, not a class


def evaluate_response(
    adata: AnnData,
    reference: AnnData | None = None,
    drug: str | None = None,
    *,
    methods: Sequence[str] = ("logreg", "signature", "rf"),
    truth_key: str | None = None,
    protocol: str = REFERENCE,
    cv: bool = True,
    n_folds: int | None = None,
    seeds: Sequence[int] | None = None,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    reference_layer: str | None = None,
    threshold: float = 0.5,
    min_shared: float | int = MIN_SHARED_GENES,
    standardize_rows: bool = True,
    model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    train_kwargs: Mapping[str, Any] | None = None,
    key_added: str = EVALUATE_RESPONSE_KEY,
) -> pd.DataFrame:
    """Score drug-response classifiers as the bulk-to-single-cell papers do, in one tidy table.

    ``protocol="reference"`` (default) runs two settings, each repeated for every seed:

    ``"bulk_cv"``
        stratified ``n_folds``-fold cross-validation on the labelled reference lines. The lines are labelled
        once, on all tested lines, by :func:`sctl.pp.binarize_response` (the label rule defines the truth, as in
        He et al. 2025 and Zhou et al. 2025; lines left unlabelled by ``"extremes"`` are neither trained on nor
        tested); folds come from :func:`sctl.pp.split` (``scheme="stratified"``). Every gene is z-scored over
        all reference lines (label-free, as :func:`sctl.tl.predict_response` does); each method is fitted on
        the training folds and scores the held-out fold.
    ``"transfer"``
        only when cells with known labels are given (``reference`` and ``truth_key``): each method learns from
        all labelled reference lines and scores the cells exactly as :func:`sctl.tl.predict_response` does
        (baselines with the estimator arguments of ``model_kwargs``); the cells' labels are used for scoring
        only.

    ``protocol="cells_cv"`` runs the protocol of ATSDP-NET (Zhou et al. 2025, Section 3.2, Table 3) on cells with
    known labels (``reference`` and ``truth_key`` required), setting ``"cells_cv"``:

    ``"cells_cv"``
        stratified ``n_folds``-fold cross-validation over the labelled cells (:func:`sctl.pp.split`,
        ``scheme="stratified"``; cells with an unknown label are neither trained on nor scored), repeated for
        every seed; by default 10 folds x 10 seeds, as in the paper. In each fold a transfer model
        (``"atsdp"``, ``"pathway_transfer"``) is trained on all labelled reference lines (the classification
        loss, Eq. 10 and 16) together with the training folds' cells WITHOUT their labels (the cells' denoising
        autoencoder, MMD and cluster regulariser, Eq. 12-17; the paper's loss holds no term on cell labels),
        then predicts the held-out fold's cells (Section 2.4.3), standardised on themselves as
        :meth:`sctl.models.ATSDPNet.predict` does for any new sample. A baseline learns from the labelled lines
        alone (fitted once per seed, as it sees no cells) and predicts each held-out fold, standardised the same
        way. The cells' labels only stratify the folds and score the predictions.

    Parameters
    ----------
    adata
        Either the cells (or samples) x genes, when ``reference`` is given; or, with ``reference=None``, the bulk
        reference itself (then only ``"bulk_cv"`` runs). Results are written into ``adata.uns[key_added]``.
    reference
        Bulk cell lines x genes with the response table ``reference.obsm[key]`` (e.g. :func:`sctl.datasets.gdsc`).
    drug
        Drug to evaluate, a column of the response table.
    methods
        Names of :func:`sctl.models.baselines.get_baseline` (``"logreg"``, ``"signature"``, ``"rf"``, ``"gb"``,
        ``"svm"``, ``"dt"``, ``"xgb"``) and of the transfer models ``"pathway_transfer"`` / ``"atsdp"``.
        Transfer models need cells: in ``"bulk_cv"`` they are trained on the training lines plus the
        (unlabelled) cells and score the held-out lines through their bulk path.
    truth_key
        Column of ``adata.obs`` with each cell's true label (``"sensitive"`` / ``"resistant"``, 0 / 1 or
        booleans; NaN = unknown, not scored). ``None``: no ``"transfer"`` setting.
    protocol
        ``"reference"`` (settings ``"bulk_cv"`` and ``"transfer"``) or ``"cells_cv"`` (the cell-level
        cross-validation of ATSDP-NET), see above. Recorded in ``uns[key_added]["params"]["protocol"]``.
    cv
        ``protocol="reference"`` only: run the ``"bulk_cv"`` setting (``False``: transfer only, e.g. to save the
        cost of deep models).
    n_folds
        Folds of the cross-validation (of the lines, or of the cells for ``"cells_cv"``); each class needs at
        least ``n_folds`` labelled lines (cells). ``None``: 5 for ``"reference"``, 10 for ``"cells_cv"``.
    seeds
        One repetition per seed (folds, classifier and model seeds); the table's ``n`` counts folds x seeds.
        ``None``: ``0, ..., 4`` for ``"reference"``, ``0, ..., 9`` for ``"cells_cv"``.
    key
        Response table: ``"ln_ic50"`` or ``"auc"`` (low = sensitive for both).
    label_method, k, label_threshold
        Label rule of :func:`sctl.pp.binarize_response` (``method``, ``k``, ``threshold``).
    layer, reference_layer
        Layers holding the expression of ``adata`` and ``reference`` (``None``: ``X``). With ``reference=None``
        ``layer`` is that of the bulk ``adata``.
    threshold
        Probability at or above which a line or cell is called sensitive (precision, recall, F1, accuracy).
    min_shared
        Fewest genes shared by cells and reference, as in :func:`sctl.tl.predict_response`.
    standardize_rows
        Z-score every profile across the genes (those shared with the cells, when cells are given) before the
        per-gene z-scores, as :func:`sctl.tl.predict_response` does by default.
    model_kwargs
        Keyword arguments per method, e.g. ``{"rf": {"n_estimators": 100}, "atsdp": {"n_heads": 4}}``: passed to
        the baseline's constructor or to the transfer model's.
    train_kwargs
        Passed to ``train`` of the transfer models, e.g. ``{"max_epochs": 20}``.
    key_added
        Key of ``adata.uns`` receiving the results.

    Returns
    -------
    Tidy table, one row per ``setting``, ``method`` and ``metric`` (precision, recall, f1, auroc, ap, accuracy)
    with ``mean``, ``std`` (sample standard deviation over folds x seeds, NaN when ``n`` is 1) and ``n``. Also sets

    ``adata.uns[key_added]["table"]``
        that table;
    ``adata.uns[key_added]["scores"]``
        the raw scores: ``setting``, ``method``, ``seed``, ``fold`` (``-1`` for transfer), ``metric``, ``value``;
    ``adata.uns[key_added]["predictions"]``
        every out-of-fold (or transfer) probability, to draw ROC / PR curves (:func:`sctl.pl.roc`,
        :func:`sctl.pl.pr`): ``setting``, ``method``, ``seed``, ``fold``, ``obs_name``, ``truth`` (1 =
        sensitive), ``proba``;
    ``adata.uns[key_added]["params"]``
        the parameters (``protocol`` among them), the label rule with its cutoffs and the number of labelled
        lines of each class (and of labelled cells, for ``"cells_cv"``).

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> bulk = bulk[:, bulk.var["landmark"]].copy()
    >>> table = sctl.tl.evaluate_response(bulk, drug="Dabrafenib", methods=["logreg", "rf"], seeds=[0])
    >>> table.query("metric == 'auroc'")[["method", "mean", "std"]]  # doctest: +SKIP
    >>> cells = sctl.datasets.tumor("Dabrafenib", n_cells=400)
    >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
    >>> sctl.tl.evaluate_response(cells, bulk, "Dabrafenib", truth_key="response", cv=False)  # doctest: +SKIP
    >>> sctl.tl.evaluate_response(  # doctest: +SKIP
    ...     cells, bulk, "Dabrafenib", methods=["atsdp", "logreg"], truth_key="response", protocol="cells_cv"
    ... )
    """
    check_anndata(adata)
    if drug is None:
        raise ValueError("Name the drug to evaluate: `drug=...` (a column of `reference.obsm[key]`).")
    _check_protocol(protocol, has_cells=reference is not None, truth_key=truth_key)
    default_folds, default_seeds = DEFAULT_FOLDS_SEEDS[protocol]
    n_folds = default_folds if n_folds is None else n_folds
    methods = _check_methods(methods, has_cells=reference is not None)
    seeds = _check_seeds(default_seeds if seeds is None else seeds)
    model_kwargs = {m: dict(kw) for m, kw in (model_kwargs or {}).items()}
    bulk, bulk_layer = (adata, layer) if reference is None else (check_anndata(reference, "reference"), reference_layer)
    if reference is None and truth_key is not None:
        raise ValueError(
            "`truth_key` scores cells, but no `reference` was given, so `adata` is the bulk reference. Pass the "
            "cells as `adata` and the bulk lines as `reference=`."
        )
    if protocol == REFERENCE and not cv and truth_key is None:
        raise ValueError("Nothing to evaluate: `cv=False` and no `truth_key`. Pass `truth_key=` or `cv=True`.")
    truth = None if truth_key is None else _truth(adata, truth_key)
    label_rule = {"method": label_method, "k": k, "threshold": label_threshold}
    if reference is not None and standardize_rows:  # profiles are z-scored over the genes the cells share
        bulk = pp.align_genes(bulk, adata, min_shared=min_shared)[0]
    min_per_class = n_folds if protocol == REFERENCE and cv else 2
    labelled = _labelled_bulk(bulk, drug, key, label_rule, bulk_layer, min_per_class, standardize_rows)
    common = {"threshold": threshold, "model_kwargs": model_kwargs, "train_kwargs": dict(train_kwargs or {})}

    scores, predictions = [], []
    cells = None if reference is None else _light(adata, layer, labelled.var_names, standardize_rows)
    if protocol == CELLS_CV:
        folds = _cell_folds(truth, n_folds)
        for s, p in _cells_cv(
            adata, cells, bulk, labelled, truth, folds, n_folds, drug, methods, seeds, key=key, label_rule=label_rule,
            layers=(layer, reference_layer), min_shared=min_shared, standardize_rows=standardize_rows, **common,
        ):  # fmt: skip
            scores.append(s)
            predictions.append(p)
    if protocol == REFERENCE and cv:
        for s, p in _bulk_cv(labelled, drug, methods, n_folds, seeds, cells, min_shared=min_shared, **common):
            scores.append(s)
            predictions.append(p)
    if protocol == REFERENCE and truth is not None:
        for method in methods:
            for seed in seeds:
                proba = _transfer_proba(
                    adata, cells, bulk, labelled, drug, method, seed, key=key, label_rule=label_rule,
                    layers=(layer, reference_layer), min_shared=min_shared, standardize_rows=standardize_rows,
                    model_kwargs=model_kwargs.get(method, {}), train_kwargs=common["train_kwargs"],
                )  # fmt: skip
                known = truth.notna().to_numpy()
                s, p = _score(truth[known].to_numpy(dtype=np.int64), proba[known], TRANSFER, method, seed, -1,
                              adata.obs_names[known], threshold)  # fmt: skip
                scores.append(s)
                predictions.append(p)

    scores_df = pd.concat(scores, ignore_index=True)
    table = summarize(scores_df)
    adata.uns[key_added] = {
        "table": table,
        "scores": scores_df,
        "predictions": pd.concat(predictions, ignore_index=True),
        "params": _params(
            labelled, drug, key, label_rule, methods, seeds, n_folds, cv, truth_key, threshold, protocol, truth
        ),
    }
    return table


# ------------------------------------------------------------------------------------------------------- checks
def _check_protocol(protocol: str, *, has_cells: bool, truth_key: str | None) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"Unknown protocol {protocol!r}.{closest(str(protocol), PROTOCOLS)} Valid names: "
            f"{', '.join(map(repr, PROTOCOLS))}."
        )
    if protocol == CELLS_CV and (not has_cells or truth_key is None):
        raise ValueError(
            "protocol='cells_cv' cross-validates over cells with known labels: pass the cells as `adata`, the "
            "bulk lines as `reference=` and the column of the cells' labels as `truth_key=`."
        )


def _check_methods(methods: Sequence[str], *, has_cells: bool) -> list[str]:
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("`methods` is empty; name at least one, e.g. `methods=('logreg', 'rf')`.")
    known = (*(b for b in BASELINES if b not in _REGRESSORS), *TRANSFER_METHODS)
    for method in methods:
        if method not in known:
            raise ValueError(
                f"Unknown method {method!r}.{closest(method, known)} Valid names: {', '.join(map(repr, known))}."
            )
        if method in TRANSFER_METHODS and not has_cells:
            raise ValueError(
                f"Method {method!r} is a transfer model and needs cells to train on: pass the cells as `adata` and "
                "the bulk lines as `reference=`, or evaluate only baselines on the bulk alone."
            )
    return methods


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in seeds):
        raise ValueError(f"`seeds` must be a non-empty sequence of integers, got {seeds!r}.")
    return [int(s) for s in seeds]


def _labelled_bulk(
    bulk: AnnData,
    drug: str,
    key: str,
    label_rule: dict[str, Any],
    layer: str | None,
    min_per_class: int,
    standardize_rows: bool,
) -> AnnData:
    """The labelled lines only, z-scored gene by gene over all lines, labels in ``obs["sctl_label"]``."""
    from ..models._transfer._data import MIN_PER_CLASS, _check_enough_labels

    X = get_matrix(bulk, layer)
    X = zscore_rows(to_dense(X, float_dtype(X))) if standardize_rows else X.copy()
    work = AnnData(X, obs=pd.DataFrame(index=bulk.obs_names.copy()), var=pd.DataFrame(index=bulk.var_names))
    if key in bulk.obsm:
        work.obsm[key] = bulk.obsm[key]
    pp.binarize_response(work, drug, key=key, **label_rule)
    counts = work.obs[LABEL_KEY].value_counts()
    fewest = min(int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES)
    needed = max(min_per_class, MIN_PER_CLASS)
    if fewest < needed:
        raise ValueError(
            f"Drug {drug!r} leaves too few labelled lines to evaluate ({counts.to_dict()}; each class needs at "
            f"least {needed}: {MIN_PER_CLASS} for any method, one per fold). Lower `n_folds`, widen the rule "
            "(`k=0.5` or `label_method='median'`) or choose a drug tested on more lines."
        )
    _check_enough_labels(work.obs[LABEL_KEY], drug, needed, response=check_drug(work, drug, key))
    pp.standardize(work)
    return work[work.obs[LABEL_KEY].notna().to_numpy()].copy()


def _truth(adata: AnnData, truth_key: str) -> pd.Series:
    values = check_obs_key(adata, truth_key, hint="Pass `truth_key=` naming the cells' known labels.")
    text = values.astype(object)
    known = text.dropna()
    if known.isin(RESPONSE_CATEGORIES).all():
        numeric = text.map({SENSITIVE: 1.0, RESPONSE_CATEGORIES[0]: 0.0})
    elif known.map(lambda v: v in (0, 1)).all():  # 0 / 1 and booleans
        numeric = text.map(lambda v: np.nan if pd.isna(v) else float(v))
    else:
        raise ValueError(
            f"`adata.obs[{truth_key!r}]` must hold 'sensitive' / 'resistant', 0 / 1 or booleans (NaN = unknown); "
            f"found e.g. {preview(known.unique(), 5)}."
        )
    numeric = numeric.astype(np.float64)
    if numeric.dropna().nunique() < 2:
        raise ValueError(f"`adata.obs[{truth_key!r}]` needs both sensitive and resistant cells to score a transfer.")
    return numeric


def _light(adata: AnnData, layer: str | None, genes: pd.Index, standardize_rows: bool) -> AnnData:
    """Expression and names of ``adata`` only, so that nothing of the user's AnnData is copied or touched.

    With ``standardize_rows``: restricted to the reference's ``genes`` and z-scored profile by profile across them.
    """
    light = AnnData(
        get_matrix(adata, layer), obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names)
    )
    if not standardize_rows:
        return light
    light = light[:, light.var_names.isin(genes)]
    light = light[:, genes[genes.isin(light.var_names)]]
    return AnnData(zscore_rows(to_dense(light.X, float_dtype(light.X))), obs=light.obs.copy(), var=light.var.copy())


# ------------------------------------------------------------------------------------------------------ bulk CV
def _bulk_cv(
    labelled: AnnData,
    drug: str,
    methods: list[str],
    n_folds: int,
    seeds: list[int],
    cells: AnnData | None,
    *,
    threshold: float,
    min_shared: float | int,
    model_kwargs: dict[str, dict[str, Any]],
    train_kwargs: dict[str, Any],
):
    """Yield the scores and out-of-fold predictions of each method, seed and fold."""
    truth = (labelled.obs[LABEL_KEY].astype(object) == SENSITIVE).to_numpy(dtype=np.int64)
    for seed in seeds:
        pp.split(labelled, "stratified", n_folds=n_folds, seed=seed, label_key=LABEL_KEY, key_added=_FOLD_KEY)
        for fold, (train, test) in enumerate(pp.iter_folds(labelled, key_added=_FOLD_KEY)):
            for method in methods:
                if method in TRANSFER_METHODS:
                    proba = _transfer_fold(labelled, train, test, cells, drug, method, seed, min_shared,
                                           model_kwargs.get(method, {}), train_kwargs)  # fmt: skip
                else:
                    model = get_baseline(method, seed=seed, **model_kwargs.get(method, {}))
                    model.fit(labelled[train], label_key=LABEL_KEY)
                    proba = check_probabilities(model.predict(labelled[test]), len(test), method)
                yield _score(truth[test], proba, BULK_CV, method, seed, fold, labelled.obs_names[test], threshold)


def _transfer_fold(
    labelled: AnnData,
    train: np.ndarray,
    test: np.ndarray,
    cells: AnnData,
    drug: str,
    method: str,
    seed: int,
    min_shared: float | int,
    model_kwargs: dict[str, Any],
    train_kwargs: dict[str, Any],
) -> np.ndarray:
    """Train a transfer model on the training lines + unlabelled cells; score the test lines by the bulk path."""
    import torch

    from ..models import ATSDPNet, PathwayTransfer
    from ..models._transfer._data import _check_enough_labels, _stack

    cls = PathwayTransfer if method == "pathway_transfer" else ATSDPNet
    bulk, target = pp.align_genes(labelled, cells, min_shared=min_shared)
    pp.standardize(target)
    data = _stack(bulk[train], target, np.full(target.n_obs, np.nan, dtype=object))
    _check_enough_labels(data.obs[LABEL_KEY][: len(train)], drug, 2)
    cls.setup_anndata(data)
    model = cls(data, **{"seed": seed, **model_kwargs})
    model.train(**{"seed": seed, **train_kwargs})
    X = np.asarray(bulk[test].X, dtype=np.float32)
    domain = np.zeros(len(test), dtype=np.float32)
    proba = model._batched(lambda x, d: torch.sigmoid(model.module.predict_logits(x, d)), X, domain)
    return check_probabilities(proba, len(test), method)


# ----------------------------------------------------------------------------------------------------- transfer
def _transfer_proba(
    adata: AnnData,
    cells: AnnData,
    bulk: AnnData,
    labelled: AnnData,
    drug: str,
    method: str,
    seed: int,
    *,
    key: str,
    label_rule: dict[str, Any],
    layers: tuple[str | None, str | None],
    min_shared: float | int,
    standardize_rows: bool,
    model_kwargs: dict[str, Any],
    train_kwargs: dict[str, Any],
) -> np.ndarray:
    """Probabilities of the cells from ``method`` learnt on every labelled reference line.

    Baselines follow the steps of :func:`predict_response` (reference z-scored over all its lines, cells on their
    own; ``cells`` come z-scored profile by profile when ``standardize_rows``) with the estimator arguments of
    ``model_kwargs``; transfer models go through :func:`predict_response` on the user's ``adata``.
    """
    if method in TRANSFER_METHODS:
        target = _light(adata, layers[0], bulk.var_names, standardize_rows=False)
        predict_response(
            target, reference=bulk, drug=drug, method=method, key=key, label_method=label_rule["method"],
            k=label_rule["k"], label_threshold=label_rule["threshold"], reference_layer=layers[1],
            min_shared=min_shared, standardize_rows=standardize_rows, seed=seed, model_kwargs=model_kwargs or None,
            train_kwargs=train_kwargs or None,
        )  # fmt: skip
        return target.obs["sctl_response_proba"].to_numpy(dtype=np.float64)
    lines, cells = pp.align_genes(labelled, cells, min_shared=min_shared)
    pp.standardize(cells)
    model = get_baseline(method, seed=seed, **model_kwargs).fit(lines, label_key=LABEL_KEY)
    return check_probabilities(model.predict(cells), cells.n_obs, method)


# ----------------------------------------------------------------------------------------------------- cells CV
def _cell_folds(truth: pd.Series, n_folds: int) -> AnnData:
    """The cells' names and labels (NaN = unknown), to be split into stratified folds by :func:`sctl.pp.split`."""
    labels = truth.map({1.0: SENSITIVE, 0.0: RESISTANT})
    counts = labels.value_counts()
    fewest = min(int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int | np.integer) or n_folds < 2 or fewest < n_folds:
        raise ValueError(
            f"protocol='cells_cv' needs an integer `n_folds` of at least 2 and no more than the labelled cells of "
            f"each class ({counts.to_dict()}); got n_folds={n_folds!r}. Lower `n_folds` or label more cells."
        )
    return AnnData(obs=pd.DataFrame({LABEL_KEY: labels.to_numpy(dtype=object)}, index=truth.index.copy()))


def _cells_cv(
    adata: AnnData,
    cells: AnnData,
    bulk: AnnData,
    labelled: AnnData,
    truth: pd.Series,
    folds: AnnData,
    n_folds: int,
    drug: str,
    methods: list[str],
    seeds: list[int],
    *,
    threshold: float,
    model_kwargs: dict[str, dict[str, Any]],
    train_kwargs: dict[str, Any],
    **data: Any,
):
    """Yield the scores and held-out predictions of each method, seed and fold of the cells' cross-validation."""
    lines, aligned = pp.align_genes(labelled, cells, min_shared=data["min_shared"])
    for seed in seeds:
        pp.split(folds, "stratified", n_folds=n_folds, seed=seed, label_key=LABEL_KEY, key_added=_FOLD_KEY)
        baselines = {
            method: get_baseline(method, seed=seed, **model_kwargs.get(method, {})).fit(lines, label_key=LABEL_KEY)
            for method in methods
            if method not in TRANSFER_METHODS
        }
        for fold, (train, test) in enumerate(pp.iter_folds(folds, key_added=_FOLD_KEY)):
            names = folds.obs_names[test]
            for method in methods:
                if method in TRANSFER_METHODS:
                    proba = _transfer_cells_fold(adata, bulk, drug, method, seed, folds.obs_names[train], names,
                                                 model_kwargs.get(method, {}), train_kwargs, **data)  # fmt: skip
                else:
                    held_out = aligned[names].copy()
                    pp.standardize(held_out)
                    proba = check_probabilities(baselines[method].predict(held_out), len(names), method)
                fold_truth = truth[names].to_numpy(dtype=np.int64)
                yield _score(fold_truth, proba, CELLS_CV, method, seed, fold, names, threshold)


def _transfer_cells_fold(
    adata: AnnData,
    bulk: AnnData,
    drug: str,
    method: str,
    seed: int,
    train: pd.Index,
    test: pd.Index,
    model_kwargs: dict[str, Any],
    train_kwargs: dict[str, Any],
    *,
    key: str,
    label_rule: dict[str, Any],
    layers: tuple[str | None, str | None],
    min_shared: float | int,
    standardize_rows: bool,
) -> np.ndarray:
    """Train a transfer model on the labelled lines + the unlabelled ``train`` cells; predict the ``test`` cells."""
    from ..models import ATSDPNet, PathwayTransfer

    cls = PathwayTransfer if method == "pathway_transfer" else ATSDPNet
    light = _light(adata, layers[0], bulk.var_names, standardize_rows=False)
    model_kwargs = {"seed": seed, **model_kwargs}
    data_kwargs = {
        "key": key, "label_method": label_rule["method"], "k": label_rule["k"],
        "label_threshold": label_rule["threshold"], "bulk_layer": layers[1], "min_shared": min_shared,
        "standardize_rows": standardize_rows, "seed": seed, **model_kwargs.pop("data_kwargs", {}),
    }  # fmt: skip
    model = cls.from_reference(
        bulk, light[train].copy(), drug, data_kwargs=data_kwargs, train_kwargs={"seed": seed, **train_kwargs},
        **model_kwargs,
    )  # fmt: skip
    return check_probabilities(model.predict(light[test].copy()), len(test), method)


# ------------------------------------------------------------------------------------------------------ scoring
def _score(
    truth: np.ndarray,
    proba: np.ndarray,
    setting: str,
    method: str,
    seed: int,
    fold: int,
    names: pd.Index,
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    report = classification_report(truth, proba, threshold=threshold)
    scores = pd.DataFrame(
        {"setting": setting, "method": method, "seed": seed, "fold": fold, "metric": list(METRICS),
         "value": [report[m] for m in METRICS]}
    )  # fmt: skip
    predictions = pd.DataFrame(
        {"setting": setting, "method": method, "seed": seed, "fold": fold, "obs_name": np.asarray(names, dtype=str),
         "truth": truth.astype(np.int64), "proba": proba}
    )  # fmt: skip
    return scores, predictions


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation and count of raw scores per setting, method and metric.

    Parameters
    ----------
    scores
        ``adata.uns["sctl_evaluate_response"]["scores"]`` (columns ``setting``, ``method``, ``metric``,
        ``value``).

    Returns
    -------
    Columns ``setting``, ``method``, ``metric``, ``mean``, ``std``, ``n``; methods and metrics in their first
    order of appearance.

    Examples
    --------
    >>> scores = pd.DataFrame({"setting": "bulk_cv", "method": "rf", "metric": "auroc", "value": [0.8, 0.9]})
    >>> summarize(scores)["mean"].round(2).tolist()
    [0.85]
    """
    order = {c: pd.unique(scores[c]) for c in ("setting", "method", "metric")}
    grouped = scores.groupby(["setting", "method", "metric"], sort=False)["value"]
    table = grouped.agg(mean="mean", std="std", n="count").reset_index()
    for column, values in order.items():
        table[column] = pd.Categorical(table[column], categories=values)
    table = table.sort_values(["setting", "method", "metric"]).reset_index(drop=True)
    for column in order:
        table[column] = table[column].astype(str)
    table["n"] = table["n"].astype(np.int64)
    return table


def _params(
    labelled: AnnData,
    drug: str,
    key: str,
    label_rule: dict[str, Any],
    methods: list[str],
    seeds: list[int],
    n_folds: int,
    cv: bool,
    truth_key: str | None,
    threshold: float,
    protocol: str,
    truth: pd.Series | None,
) -> dict[str, Any]:
    label_params = labelled.uns[LABEL_KEY]["params"]
    params = {
        "protocol": protocol,
        "drug": drug,
        "key": key,
        "methods": methods,
        "seeds": seeds,
        "n_folds": n_folds,
        "cv": cv and protocol == REFERENCE,
        "truth_key": truth_key,
        "threshold": threshold,
        "label_rule": {
            **{k_: v for k_, v in label_rule.items() if v is not None},
            **{k_: label_params.get(k_) for k_ in ("sensitive_cutoff", "resistant_cutoff")},
        },
        "n_sensitive": int(label_params.get("n_sensitive", 0)),
        "n_resistant": int(label_params.get("n_resistant", 0)),
        "split": "stratified k-fold over the labelled lines (sctl.pp.split), labels set once on all tested lines",
        "standardization": "per-gene z-score over all reference lines (label-free); cells on their own",
    }
    if protocol == CELLS_CV:
        params["n_cells_sensitive"] = int((truth == 1).sum())
        params["n_cells_resistant"] = int((truth == 0).sum())
        params["split"] = (
            "stratified k-fold over the labelled cells (sctl.pp.split); transfer models train on all labelled "
            "lines + the training folds' cells, unlabelled; baselines on the lines alone; the held-out cells scored"
        )
        params["standardization"] = "per-gene z-score over all reference lines; each held-out fold on its own"
    return params
