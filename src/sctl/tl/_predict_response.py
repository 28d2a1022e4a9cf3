"""Predict the drug sensitivity of every cell (or sample) from a bulk reference or a trained model."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import pp
from .._constants import LABEL_KEY, MIN_SHARED_GENES, RESPONSE_CATEGORIES, RESPONSE_KEY, SENSITIVE
from .._validate import check_anndata, is_mudata, preview, pull_obs_columns, resolve_modality
from ..models.baselines import get_baseline

if TYPE_CHECKING:
    from mudata import MuData

logger = logging.getLogger(__name__)


@runtime_checkable
class ResponseModel(Protocol):
    """Anything trained that turns an AnnData into one probability of sensitivity per observation.

    sctl's baselines and deep models follow it; so can a user's own model.
    """

    def predict(self, adata: AnnData) -> np.ndarray:
        """Return the probability that each observation of ``adata`` is sensitive, shape ``(n_obs,)``."""
        ...


def predict_response(
    adata: AnnData | MuData,
    reference: AnnData | MuData | None = None,
    drug: str | None = None,
    *,
    mod: str | None = None,
    reference_mod: str | None = None,
    method: str = "ensemble",
    model: ResponseModel | None = None,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    reference_layer: str | None = None,
    threshold: float = 0.5,
    min_shared: float | int = MIN_SHARED_GENES,
    standardize_rows: bool = True,
    seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    train_kwargs: dict[str, Any] | None = None,
    key_added: str = RESPONSE_KEY,
    copy: bool = False,
) -> MuData | AnnData | None:
    """Predict the probability that each cell is sensitive to a drug.

    Either learn it from a bulk ``reference`` (cell lines with a response table) or apply a trained ``model``.
    With a reference, the steps are those of the bulk-to-single-cell papers sctl implements
    (He et al. 2025; Zhou et al. 2025):

    1. keep the genes shared by both (:func:`sctl.pp.align_genes`; at least ``min_shared``, 500 by default);
    2. z-score every profile across the shared genes (``standardize_rows``), then standardise each domain on its
       own, gene by gene (:func:`sctl.pp.standardize`), so that neither the bulk nor the cells need to be on the
       other's scale (counts, log-normalised or scaled data all work);
    3. label the reference lines sensitive / resistant from the drug's response
       (:func:`sctl.pp.binarize_response`: by default the bottom / top ``k`` fraction);
    4. fit ``method`` on the labelled lines and predict every cell.

    Neither ``adata`` nor ``reference`` is modified apart from the keys listed below; labels that the cells
    carry are never used.

    A :class:`~mudata.MuData` holding the bulk and the cells as modalities works too:
    ``predict_response(mdata, drug="Dabrafenib", mod="cells", reference_mod="bulk")``. The results are written to
    the cells' modality ``mdata.mod[mod]`` (the bulk modality is left untouched), and the two new ``obs`` columns
    are pulled to ``mdata.obs`` as ``f"{mod}:{key_added}"`` and ``f"{mod}:{key_added}_proba"``
    (:meth:`~mudata.MuData.pull_obs`).

    Parameters
    ----------
    adata
        Cells (or samples) x genes. Expression is read from ``layer`` (log-normalised ``X`` by default).
        Or a MuData whose modality ``mod`` holds the cells.
    reference
        Bulk cell lines x genes with the response table ``reference.obsm[key]`` (cell lines x drugs), e.g.
        :func:`sctl.datasets.gdsc` (or a MuData with that modality ``reference_mod``). Not needed when
        ``model`` is given, nor when ``adata`` is a MuData and ``reference_mod`` names its bulk modality.
    drug
        Drug whose response is learnt from ``reference`` (a column of ``reference.obsm[key]``).
    method
        ``"ensemble"`` (default): the mean probability of the signature score, the random forest and ATSDPNet,
        each learnt as on its own (members set by ``model_kwargs={"members": [...]}``, any two or more of the
        names below; per-member arguments as ``model_kwargs={"atsdp": {...}}``). It ranked cells best on the
        realistic-shift benchmark (one-line tumours with sensitive and resistant sub-populations, unseen
        tissues, 16-line tumours, all on a droplet-like platform; ``benchmarks/realistic_shift.py``, figures in
        the README), at the cost of training ATSDPNet (seconds to a minute on a CPU; use
        ``model_kwargs={"members": ["signature", "rf"]}`` for a baseline-only ensemble in seconds). Otherwise a
        classifier fitted on the reference, a name of :func:`sctl.models.baselines.get_baseline`
        (``"signature"``, ``"rf"``, ``"logreg"``, ``"gb"``, ``"svm"``), or a transfer model trained on the
        reference and the (unlabelled) cells together: ``"pathway_transfer"`` (:class:`sctl.models.PathwayTransfer`,
        He et al. 2025) or ``"atsdp"`` (:class:`sctl.models.ATSDPNet`, Zhou et al. 2025).
    model
        A trained model with ``predict(adata) -> probabilities`` (:class:`ResponseModel`), used instead of
        learning from ``reference``. It receives ``adata`` as it is and does its own preprocessing.
    mod
        When ``adata`` is a MuData: the modality holding the cells (may be omitted if it is the only one).
    reference_mod
        The modality holding the bulk reference: of ``reference`` when it is a MuData, else of ``adata``.
    key
        Response table of the reference: ``"ln_ic50"`` or ``"auc"`` (low = sensitive for both).
    label_method, k, label_threshold
        Rule that turns the reference's response into labels, passed to :func:`sctl.pp.binarize_response`
        as ``method``, ``k`` and ``threshold``.
    layer, reference_layer
        Layers holding the expression of ``adata`` and ``reference`` (``None``: ``X``).
    threshold
        Probability at or above which a cell is called sensitive. The probabilities are kept as they are.
    min_shared
        Fewest shared genes accepted: a count (int; default 500, enough for every method) or a fraction of the
        reference's genes (float). The number used is logged and recorded; fewer than 1,000 shared genes warn
        (:func:`sctl.pp.align_genes`).
    standardize_rows
        Z-score each profile across the shared genes before the per-gene z-score (step 2). A cell's overall
        level and spread follow its library size and detection rate, which bulk lines never vary along; the
        shipped GDSC expression is already z-scored this way. On the realistic-shift benchmark it raised the
        AUROC of the random forest, logistic regression and the transfer models (the signature score, a
        correlation, is unaffected). ``False``: per-gene z-scores only, the papers' preprocessing.
    seed
        Seed of the classifier.
    model_kwargs, train_kwargs
        For the transfer models (also as members of the ensemble): passed to the model's constructor and to its
        ``train`` (e.g. ``model_kwargs={"n_heads": 4}``, ``train_kwargs={"max_epochs": 50}``). For
        ``method="ensemble"``, ``model_kwargs`` holds ``"members"`` and per-member ``model_kwargs``.
    key_added
        Results go to ``adata.obs[key_added]`` (call) and ``adata.obs[f"{key_added}_proba"]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or a copy of ``adata`` (AnnData or MuData) when ``copy=True``. Sets, on the cells
    (``adata``, or ``adata.mod[mod]`` for a MuData)

    ``adata.obs[f"{key_added}_proba"]``
        probability of sensitivity, in [0, 1], as the reference's labels define it. It is fitted on the
        reference lines (the signature score through a Platt fit, the forest as its share of trees, the ensemble
        as their mean; the transfer models through their sigmoid output, which tends to be over-confident: see
        the Brier scores of the realistic-shift benchmark in the README). On cells from another platform, read it
        as a ranking first (which cells look most like the sensitive lines), then as a probability: its level
        shifts with the sample (a tumour of one line has no "average line"), so compare cells within a sample and
        treat ``threshold`` as a convention, not a boundary learnt on the cells;
    ``adata.obs[key_added]``
        categorical call, ``"sensitive"`` / ``"resistant"``;
    ``adata.uns[key_added]["params"]``
        the parameters, the label rule, the number of shared genes and of labelled reference lines (and the
        ``members`` of an ensemble).

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.tumor(drug="Dabrafenib", n_cells=500)
    >>> bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
    >>> sctl.tl.predict_response(cells, reference=bulk, drug="Dabrafenib")
    >>> cells.obs["sctl_response"].value_counts()  # doctest: +SKIP
    """
    mdata = (adata.copy() if copy else adata) if is_mudata(adata) else None
    cells = resolve_modality(adata if mdata is None else mdata, mod)
    reference = _resolve_reference(adata, reference, reference_mod)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must lie strictly between 0 and 1, got {threshold}.")
    if model is not None:
        if reference is not None:
            raise ValueError("Pass either `model=` (already trained) or `reference=` (to train on), not both.")
        proba = _predict_with_model(model, cells, layer)
        params: dict[str, Any] = {"model": type(model).__name__, "layer": layer}
    elif reference is not None:
        if drug is None:
            raise ValueError("Name the drug whose response to learn from the reference: `drug=...`.")
        proba, params = _learn_from_reference(
            cells,
            check_anndata(reference, "reference"),
            drug,
            method=method,
            key=key,
            label_rule={"method": label_method, "k": k, "threshold": label_threshold},
            layers=(layer, reference_layer),
            min_shared=min_shared,
            standardize_rows=standardize_rows,
            seed=seed,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
        )
    else:
        raise ValueError(
            "Nothing to predict with: pass `reference=` (bulk cell lines with a response table, e.g. "
            "`sctl.datasets.gdsc()`) and `drug=`, or a trained `model=`. With a MuData holding the bulk, "
            "name its modality: `reference_mod='bulk'`."
        )

    cells = cells.copy() if copy and mdata is None else cells
    _write_response(cells, proba, threshold, key_added)
    cells.uns[key_added] = {"params": {**params, "threshold": threshold}}
    if mdata is not None:
        pull_obs_columns(mdata, cells, [key_added, f"{key_added}_proba"])
    return (cells if mdata is None else mdata) if copy else None


def _resolve_reference(
    adata: AnnData | MuData, reference: AnnData | MuData | None, reference_mod: str | None
) -> AnnData | None:
    """The bulk reference: ``reference``, its modality ``reference_mod``, or ``adata``'s modality ``reference_mod``."""
    if reference is None and reference_mod is not None:
        if not is_mudata(adata):
            raise TypeError(
                f"`reference_mod={reference_mod!r}` names a modality, but neither `adata` nor `reference` is a MuData. "
                "Pass the bulk AnnData as `reference=` instead."
            )
        reference = adata
    if reference is None:
        return None
    return resolve_modality(reference, reference_mod, "reference", "reference_mod")


def _predict_with_model(model: ResponseModel, adata: AnnData, layer: str | None) -> np.ndarray:
    if not isinstance(model, ResponseModel):
        raise TypeError(
            f"`model` must have a `predict(adata)` method returning probabilities, got {type(model).__name__}."
        )
    proba = model.predict(adata) if layer is None else model.predict(adata, layer=layer)
    return _check_probabilities(proba, adata.n_obs, type(model).__name__)


def _learn_from_reference(
    adata: AnnData,
    reference: AnnData,
    drug: str,
    *,
    method: str,
    key: str,
    label_rule: dict[str, Any],
    layers: tuple[str | None, str | None],
    min_shared: float | int,
    standardize_rows: bool,
    seed: int,
    model_kwargs: dict[str, Any] | None = None,
    train_kwargs: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    layer, reference_layer = layers
    if method == ENSEMBLE:
        return _learn_ensemble(
            adata, reference, drug, key=key, label_rule=label_rule, layers=layers, min_shared=min_shared,
            standardize_rows=standardize_rows, seed=seed, model_kwargs=model_kwargs, train_kwargs=train_kwargs,
        )  # fmt: skip
    if method in TRANSFER_METHODS:
        return _learn_transfer(
            adata, reference, drug, method=method, key=key, label_rule=label_rule, layers=layers,
            min_shared=min_shared, standardize_rows=standardize_rows, seed=seed, model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
        )  # fmt: skip
    from ..models._transfer import standardization, standardize_domains  # the module imports torch and scvi-tools

    classifier = get_baseline(method, seed=seed)
    bulk, cells = pp.align_genes(reference, adata, min_shared=min_shared)
    logger.info("predict_response: %s on %d shared genes", method, bulk.n_vars)
    standardize_domains(bulk, cells, layers=(reference_layer, layer), standardize_rows=standardize_rows)
    pp.binarize_response(bulk, drug, key=key, key_added=LABEL_KEY, **label_rule)
    classifier.fit(bulk, label_key=LABEL_KEY)
    proba = _check_probabilities(classifier.predict(cells), adata.n_obs, method)
    labels = bulk.obs[LABEL_KEY].value_counts()
    params = {
        "method": method,
        "drug": drug,
        "key": key,
        "label_rule": {k: v for k, v in label_rule.items() if v is not None},
        "layer": layer,
        "reference_layer": reference_layer,
        "standardization": standardization(standardize_rows),
        "n_genes_shared": int(bulk.n_vars),
        "n_reference_sensitive": int(labels.get(SENSITIVE, 0)),
        "n_reference_resistant": int(labels.drop(SENSITIVE, errors="ignore").sum()),
        "seed": seed,
    }
    return proba, params


TRANSFER_METHODS = ("pathway_transfer", "atsdp")
ENSEMBLE = "ensemble"
#: members of ``method="ensemble"``, the default: the best-ranking mix on the realistic-shift benchmark (README)
ENSEMBLE_MEMBERS = ("signature", "rf", "atsdp")


def _learn_ensemble(
    adata: AnnData, reference: AnnData, drug: str, *, model_kwargs: dict[str, Any] | None, **common: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean of the members' probabilities, each learnt exactly as ``predict_response(method=member)`` would.

    ``model_kwargs`` may hold ``"members"`` and, per member name, that member's ``model_kwargs``.
    """
    from ..models.baselines import BASELINES

    model_kwargs = dict(model_kwargs or {})
    members = tuple(model_kwargs.pop("members", ENSEMBLE_MEMBERS))
    known = (*BASELINES, *TRANSFER_METHODS)
    if len(members) < 2 or not set(members) <= set(known) or "ridge" in members:
        raise ValueError(
            f"An ensemble needs at least two classifiers among {preview([m for m in known if m != 'ridge'])}; got "
            f"`model_kwargs={{'members': {list(members)!r}}}`."
        )
    probabilities, params = [], {}
    for member in members:
        proba, params = _learn_from_reference(
            adata, reference, drug, method=member, model_kwargs=model_kwargs.get(member), **common
        )
        probabilities.append(proba)
    params = {k: v for k, v in params.items() if k != "model_kwargs"}
    return np.mean(probabilities, axis=0), {**params, "method": ENSEMBLE, "members": list(members)}


def _learn_transfer(
    adata: AnnData,
    reference: AnnData,
    drug: str,
    *,
    method: str,
    key: str,
    label_rule: dict[str, Any],
    layers: tuple[str | None, str | None],
    min_shared: float | int,
    standardize_rows: bool,
    seed: int,
    model_kwargs: dict[str, Any] | None,
    train_kwargs: dict[str, Any] | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train a bulk-to-single-cell model on ``reference`` and the unlabelled cells, then score the cells."""
    from ..models import ATSDPNet, PathwayTransfer

    cls = PathwayTransfer if method == "pathway_transfer" else ATSDPNet
    model_kwargs = {"seed": seed, **(model_kwargs or {})}
    train_kwargs = {"seed": seed, **(train_kwargs or {})}
    data_kwargs = {
        "key": key, "label_method": label_rule["method"], "k": label_rule["k"],
        "label_threshold": label_rule["threshold"], "layer": layers[0], "bulk_layer": layers[1],
        "min_shared": min_shared, "standardize_rows": standardize_rows, "seed": seed,
        **model_kwargs.pop("data_kwargs", {}),
    }  # fmt: skip
    model = cls.from_reference(
        reference, adata, drug, data_kwargs=data_kwargs, train_kwargs=train_kwargs, **model_kwargs
    )
    logger.info("predict_response: %s on %d shared genes", method, model.adata.n_vars)
    proba = _check_probabilities(model.predict(adata, layer=layers[0]), adata.n_obs, method)
    transfer = model.adata.uns["sctl_transfer"]
    counts = transfer["counts"]
    params = {
        "method": method,
        "drug": drug,
        "key": key,
        "label_rule": {k: v for k, v in label_rule.items() if v is not None},
        "layer": layers[0],
        "reference_layer": layers[1],
        "standardization": transfer["params"]["standardization"],
        "n_genes_shared": int(model.adata.n_vars),
        "n_reference_sensitive": counts.get("bulk_sensitive", 0),
        "n_reference_resistant": counts.get("bulk_resistant", 0),
        "seed": seed,
        "model_kwargs": {k: v for k, v in model_kwargs.items() if isinstance(v, int | float | str | bool)},
    }
    return proba, params


def _check_probabilities(proba: np.ndarray, n_obs: int, source: str) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64).reshape(-1)
    if proba.shape != (n_obs,):
        raise ValueError(f"{source} returned {proba.size} probabilities for {n_obs} observations.")
    if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"{source} returned values outside [0, 1] or non-finite values; expected probabilities.")
    return proba


def _write_response(adata: AnnData, proba: np.ndarray, threshold: float, key_added: str) -> None:
    calls = np.where(proba >= threshold, RESPONSE_CATEGORIES[1], RESPONSE_CATEGORIES[0])
    adata.obs[f"{key_added}_proba"] = proba
    adata.obs[key_added] = pd.Categorical(calls, categories=list(RESPONSE_CATEGORIES))
