"""Evaluate drug-response methods: CV on bulk lines, transfer to labelled cells, CV over labelled cells."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY, MIN_SHARED_GENES, SENSITIVE
from sctl._validate import check_anndata, closest, preview
from sctl.tl._evaluate_data import EvaluationData, cell_folds, cell_truth, evaluation_data, score, summarize
from sctl.tl._evaluate_folds import LEARNERS
from sctl.tl._response_methods import DECOMPOSED, ResponseTask, learn_response

EVALUATE_RESPONSE_KEY = "sctl_evaluate_response"
BULK_CV, TRANSFER, CELLS_CV = "bulk_cv", "transfer", "cells_cv"
#: evaluation protocols: sctl's reference protocol (bulk CV + transfer) and the cell-level CV of ATSDP-NET
REFERENCE = "reference"
PROTOCOLS = (REFERENCE, CELLS_CV)
#: folds and seeds of each protocol when not given: ATSDP-NET's 10-fold CV repeated with 10 seeds for "cells_cv"
DEFAULT_FOLDS_SEEDS = {REFERENCE: (5, (0, 1, 2, 3, 4)), CELLS_CV: (10, tuple(range(10)))}
#: methods reported when none are named: sctl's default method beside the classifiers the papers report
DEFAULT_METHODS = (DECOMPOSED, "logreg", "signature", "rf")
_FOLD_KEY = "_sctl_evaluate_fold"
Scored = Iterator[tuple[pd.DataFrame, pd.DataFrame]]  # the raw scores and the predictions of each fold
Tasks = dict[int, dict[str, ResponseTask]]  # seed -> method -> what it learns, with its arguments


def evaluate_response(
    adata: AnnData,
    reference: AnnData | None = None,
    drug: str | None = None,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
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
    """Score drug-response methods as the bulk-to-single-cell papers do, in one tidy table.

    ``protocol="reference"`` (default) runs two settings, each repeated for every seed:

    ``"bulk_cv"``
        stratified ``n_folds``-fold cross-validation on the labelled reference lines. The lines are labelled once, on
        all tested lines, by :func:`sctl.pp.binarize_response` (the label rule defines the truth, as in
        :cite:t:`he2025transfer` and :cite:t:`zhou2025atsdpnet`; lines left unlabelled by ``"extremes"`` are never
        tested); folds come from :func:`sctl.pp.split` (``scheme="stratified"``). Every gene is z-scored over all
        reference lines (label-free, as :func:`sctl.tl.predict_response` does); each method is fitted on the training
        folds and scores the held-out fold. The decomposed ridge fits the response table of the training lines (every
        drug, and the unlabelled lines' continuous responses too, as in :func:`sctl.tl.predict_response`) and calibrates
        on their labels: a held-out line's responses, to any drug, are never seen.
    ``"transfer"``
        only when cells with known labels are given (``reference`` and ``truth_key``): each method learns from
        the reference and scores the cells exactly as :func:`sctl.tl.predict_response` learns (with the
        arguments of ``model_kwargs``); every cell is scored (the cells' checks and the applicability domain of
        :func:`sctl.tl.predict_response` are not part of the evaluation). The cells' labels are used for scoring
        only.

    ``protocol="cells_cv"`` runs the protocol of ATSDP-NET (:cite:t:`zhou2025atsdpnet`, Section 3.2, Table 3) on cells
    with known labels (``reference`` and ``truth_key`` required), setting ``"cells_cv"``:

    ``"cells_cv"``
        stratified ``n_folds``-fold cross-validation over the labelled cells (:func:`sctl.pp.split`,
        ``scheme="stratified"``; cells with an unknown label are neither trained on nor scored), repeated for
        every seed; by default 10 folds x 10 seeds, as in the paper. In each fold a transfer model
        (``"atsdp"``, ``"pathway_transfer"``) is trained on all labelled reference lines (the classification
        loss, Eq. 10 and 16) together with the training folds' cells WITHOUT their labels (the cells' denoising
        autoencoder, MMD and cluster regulariser, Eq. 12-17; the paper's loss holds no term on cell labels),
        then predicts the held-out fold's cells (Section 2.4.3), standardised on themselves as
        :meth:`sctl.models.ATSDPNet.predict` does for any new sample. A baseline, or the decomposed ridge, learns
        from the lines alone (fitted once per seed, as it sees no cells) and predicts each held-out fold,
        standardised the same way. The cells' labels only stratify the folds and score the predictions.

    An ensemble averages the probabilities of its members, each learnt in every fold as on its own, so it costs
    what its members cost together.

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
        Names of :func:`sctl.tl.predict_response`'s methods: ``"decomposed_ridge"``
        (:class:`sctl.models.baselines.DecomposedRidge`), the classifiers of
        :func:`sctl.models.baselines.get_baseline` (``"logreg"``, ``"signature"``, ``"rf"``, ``"gb"``, ``"svm"``,
        ``"dt"``, ``"xgb"``), the transfer models ``"pathway_transfer"`` / ``"atsdp"`` and ``"ensemble"``.
        Transfer models need cells: in ``"bulk_cv"`` they are trained on the training lines plus the
        (unlabelled) cells and score the held-out lines through their bulk path; so does an ensemble holding
        one (its default members ``"signature"``, ``"rf"``, ``"atsdp"`` do).
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
        Keyword arguments per method, e.g. ``{"rf": {"n_estimators": 100}, "atsdp": {"n_heads": 4}}``: the
        ``model_kwargs`` of :func:`sctl.tl.predict_response` for that method (a baseline's estimator arguments,
        the decomposed ridge's ``alpha``, a transfer model's constructor arguments; ``{"ensemble": {"members":
        [...], "rf": {...}}}`` for an ensemble). Names a method does not accept raise before anything is fitted.
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
    >>> table = sctl.tl.evaluate_response(bulk, drug="Dabrafenib", methods=["decomposed_ridge", "rf"], seeds=[0])
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
    model_kwargs = {m: dict(kw) for m, kw in (model_kwargs or {}).items()}
    methods = _check_methods(methods, model_kwargs, has_cells=reference is not None)
    seeds = _check_seeds(default_seeds if seeds is None else seeds)
    if reference is not None:
        check_anndata(reference, "reference")
    if reference is None and truth_key is not None:
        raise ValueError(
            "`truth_key` scores cells, but no `reference` was given, so `adata` is the bulk reference. Pass the "
            "cells as `adata` and the bulk lines as `reference=`."
        )
    if protocol == REFERENCE and not cv and truth_key is None:
        raise ValueError("Nothing to evaluate: `cv=False` and no `truth_key`. Pass `truth_key=` or `cv=True`.")
    truth = None if truth_key is None else cell_truth(adata, truth_key)
    label_rule = {"method": label_method, "k": k, "threshold": label_threshold}
    data = evaluation_data(
        adata,
        reference,
        drug,
        key=key,
        label_rule=label_rule,
        layers=(layer, reference_layer),
        min_shared=min_shared,
        standardize_rows=standardize_rows,
        min_per_class=n_folds if protocol == REFERENCE and cv else 2,
    )
    # the cells are read from `layer` once (EvaluationData.raw_cells); the methods see them in X
    task = ResponseTask(drug, key, label_rule, (None, reference_layer), min_shared, standardize_rows, seed=0)
    tasks = {
        seed: {
            m: replace(task, seed=seed, model_kwargs=model_kwargs.get(m), train_kwargs=train_kwargs) for m in methods
        }
        for seed in seeds
    }

    runs: list[Scored] = []
    if protocol == CELLS_CV:
        runs.append(_cells_cv(data, tasks, truth, n_folds, threshold))
    if protocol == REFERENCE and cv:
        runs.append(_bulk_cv(data, tasks, n_folds, threshold))
    if protocol == REFERENCE and truth is not None:
        runs.append(_transfer(data, tasks, truth, threshold))
    scores, predictions = zip(*(result for run in runs for result in run), strict=True)
    scores_df = pd.concat(scores, ignore_index=True)
    table = summarize(scores_df)
    adata.uns[key_added] = {
        "table": table,
        "scores": scores_df,
        "predictions": pd.concat(predictions, ignore_index=True),
        "params": _params(
            data.lines, drug, key, label_rule, methods, seeds, n_folds, cv, truth_key, threshold, protocol, truth
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


def _check_methods(methods: Sequence[str], model_kwargs: dict[str, dict[str, Any]], *, has_cells: bool) -> list[str]:
    """The distinct method names, each known and able to run with its ``model_kwargs`` (and the cells, if any)."""
    methods = list(dict.fromkeys([methods] if isinstance(methods, str) else methods))
    if not methods:
        raise ValueError(f"`methods` is empty; name at least one, e.g. `methods={DEFAULT_METHODS!r}`.")
    for method in methods:
        if method not in LEARNERS:
            hint = " `'ridge'` is a regression baseline; classify with another." if method == "ridge" else ""
            raise ValueError(
                f"Unknown method {method!r}.{closest(str(method), LEARNERS)}{hint} Valid names: "
                f"{preview(list(LEARNERS), 20)}."
            )
        LEARNERS[method].check(model_kwargs.get(method), has_cells)
    return methods


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in seeds):
        raise ValueError(f"`seeds` must be a non-empty sequence of integers, got {seeds!r}.")
    return [int(s) for s in seeds]


# ----------------------------------------------------------------------------------------------------- settings
def _bulk_cv(data: EvaluationData, tasks: Tasks, n_folds: int, threshold: float) -> Scored:
    """The scores and out-of-fold predictions of each seed, method and fold over the labelled lines."""
    labelled = data.labelled
    truth = (labelled.obs[LABEL_KEY].astype(object) == SENSITIVE).to_numpy(dtype=np.int64)
    for seed, of_method in tasks.items():
        pp.split(labelled, "stratified", n_folds=n_folds, seed=seed, label_key=LABEL_KEY, key_added=_FOLD_KEY)
        folds = list(pp.iter_folds(labelled, key_added=_FOLD_KEY))
        for method, task in of_method.items():
            probabilities = LEARNERS[method].lines_folds(data, task, folds)
            for fold, ((_, test), proba) in enumerate(zip(folds, probabilities, strict=True)):
                yield score(truth[test], proba, BULK_CV, method, seed, fold, labelled.obs_names[test], threshold)


def _transfer(data: EvaluationData, tasks: Tasks, truth: pd.Series, threshold: float) -> Scored:
    """The scores and predictions of each seed and method learnt on the reference, on every labelled cell."""
    known = truth.notna().to_numpy()
    for seed, of_method in tasks.items():
        for method, task in of_method.items():
            proba = learn_response(data.raw_cells, data.bulk, task, method)[0]
            yield score(
                truth[known].to_numpy(dtype=np.int64),
                proba[known],
                TRANSFER,
                method,
                seed,
                -1,
                data.raw_cells.obs_names[known],
                threshold,
            )


def _cells_cv(data: EvaluationData, tasks: Tasks, truth: pd.Series, n_folds: int, threshold: float) -> Scored:
    """The scores and held-out predictions of each seed, method and fold of the cells' cross-validation."""
    cells = cell_folds(truth, n_folds)
    for seed, of_method in tasks.items():
        pp.split(cells, "stratified", n_folds=n_folds, seed=seed, label_key=LABEL_KEY, key_added=_FOLD_KEY)
        folds = [(cells.obs_names[train], cells.obs_names[test]) for train, test in pp.iter_folds(cells, _FOLD_KEY)]
        for method, task in of_method.items():
            probabilities = LEARNERS[method].cells_folds(data, task, folds)
            for fold, ((_, test), proba) in enumerate(zip(folds, probabilities, strict=True)):
                yield score(truth[test].to_numpy(dtype=np.int64), proba, CELLS_CV, method, seed, fold, test, threshold)


def _params(
    lines: AnnData,
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
    label_params = lines.uns[LABEL_KEY]["params"]
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
        "split": (
            "stratified k-fold over the labelled lines (sctl.pp.split), labels set once on all tested lines; the "
            "decomposed ridge fits the training lines' response table (every drug, unlabelled lines too)"
        ),
        "standardization": "per-gene z-score over all reference lines (label-free); cells on their own",
    }
    if protocol == CELLS_CV:
        params["n_cells_sensitive"] = int((truth == 1).sum())
        params["n_cells_resistant"] = int((truth == 0).sum())
        params["split"] = (
            "stratified k-fold over the labelled cells (sctl.pp.split); transfer models train on all labelled "
            "lines + the training folds' cells, unlabelled; the other methods on the lines alone; the held-out "
            "cells scored"
        )
        params["standardization"] = "per-gene z-score over all reference lines; each held-out fold on its own"
    return params
