"""Predict the drug sensitivity of every cell (or sample) from a bulk reference or a trained model."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import IN_DOMAIN_KEY, MIN_SHARED_GENES, RESPONSE_CATEGORIES, RESPONSE_KEY, UNCERTAIN
from sctl._validate import check_anndata, is_mudata, preview, pull_obs_columns, resolve_modality
from sctl.tl._response_domain import learn_within_domain
from sctl.tl._response_methods import (
    DECOMPOSED,
    DEFAULT_METHOD,
    ResponseTask,
    check_probabilities,
    learn_response,
    stream_decomposed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mudata import MuData

    from sctl.tl._response_stream import CellScan

logger = logging.getLogger(__name__)


@runtime_checkable
class ResponseModel(Protocol):
    """What :func:`predict_response` needs of a trained model passed as ``model=``: a ``predict`` method.

    ``predict(adata)`` receives the cells as the caller passed them (all genes, not aligned, not standardised: the
    model does its own preprocessing) and returns the probability that each observation is sensitive: an array of
    ``adata.n_obs`` finite values in [0, 1] (anything :func:`numpy.asarray` turns into one), in the order of
    ``adata.obs_names``. When :func:`predict_response` gets ``layer=``, it calls ``predict(adata, layer=layer)``:
    accept that keyword to read expression from a layer. No base class is needed; ``isinstance(obj,
    ResponseModel)`` checks only that ``predict`` exists, and :func:`predict_response` checks the shape and
    range of what it returns. sctl's baselines, :class:`sctl.models.PathwayTransfer` and
    :class:`sctl.models.ATSDPNet` follow it.

    Examples
    --------
    A model of one marker gene: the higher its expression in a cell relative to the sample, the more sensitive.

    >>> import numpy as np
    >>> import sctl
    >>> class MarkerModel:
    ...     def __init__(self, gene):
    ...         self.gene = gene
    ...
    ...     def predict(self, adata, layer=None):
    ...         x = adata[:, self.gene].to_df(layer)[self.gene].to_numpy()
    ...         return 1 / (1 + np.exp(-(x - x.mean()) / (x.std() + 1e-8)))
    >>> cells = sctl.datasets.realistic_tumor("Dabrafenib", n_cells=200)
    >>> isinstance(MarkerModel("BCL2A1"), sctl.tl.ResponseModel)
    True
    >>> sctl.tl.predict_response(cells, model=MarkerModel("BCL2A1"))
    >>> cells.obs["sctl_response_proba"].between(0, 1).all(), cells.uns["sctl_response"]["params"]["model"]
    (np.True_, 'MarkerModel')
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
    batch_key: str | None = None,
    method: str = DEFAULT_METHOD,
    model: ResponseModel | None = None,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    reference_layer: str | None = None,
    threshold: float = 0.5,
    min_shared: float | int = MIN_SHARED_GENES,
    standardize_rows: bool | None = None,
    seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    train_kwargs: dict[str, Any] | None = None,
    key_added: str = RESPONSE_KEY,
    copy: bool = False,
) -> MuData | AnnData | None:
    """Predict the probability that each cell is sensitive to a drug.

    Either learn it from a bulk ``reference`` (cell lines with a response table) or apply a trained ``model``.
    With a reference, the steps are those of the bulk-to-single-cell papers sctl implements
    :cite:p:`he2025transfer,zhou2025atsdpnet`:

    1. keep the genes shared by both (:func:`sctl.pp.align_genes`; at least ``min_shared``, 500 by default);
    2. z-score every profile across the shared genes (``standardize_rows``), then standardise each domain on its
       own, gene by gene (:func:`sctl.pp.standardize`), so that neither the bulk nor the cells need to be on the
       other's scale;
    3. label the reference lines sensitive / resistant from the drug's response
       (:func:`sctl.pp.binarize_response`: by default the bottom / top ``k`` fraction); every method needs at
       least 5 lines of each class, and a response that does not separate them (e.g. constant) is refused;
    4. fit ``method`` on the labelled lines and predict every cell;
    5. place every cell in the reference's applicability domain (sctl): its Pearson correlation with the nearest
       reference line over the shared genes, each cell first averaged with its 14 nearest cells of the same
       sample (in PCA space) against single-cell sparsity. The reference lines' correlation with their nearest
       OTHER line gives the null; a cell below 0.45 times its 5 % quantile resembles no reference line (calibrated
       so that semi-synthetic tumours of held-out lines, :func:`sctl.datasets.realistic_tumor`, stay inside).
       Such cells keep their probability and are called ``"uncertain"``; above 20 % of the cells a warning gives
       their share.

    What the cells must hold (with ``reference=``): log-normalised expression, as
    ``sc.pp.normalize_total(adata, target_sum=1e4); sc.pp.log1p(adata)`` leaves it. Raw counts (integers beyond
    25) and values beyond any log scale are refused with those two lines; negative (scaled, e.g. by
    ``sc.pp.scale``) values warn, as the per-cell z-score assumes unscaled input. The bulk reference has its own
    scale (the shipped GDSC expression is z-scored per line) and is not checked. Cells with fewer than 20
    detected (non-zero) shared genes (half the genes of a panel under 40) are not scored (probability NaN, call
    ``"uncertain"``, with a warning); fewer than 20 scorable cells are refused, since the cells' genes are
    standardised over the cells scored together. For the same reason the probabilities are relative to the cells
    of one call: score the samples you want to compare in one call (``batch_key`` names them); fewer than 300
    cells warn.

    Large inputs: above 50,000 cells (``sctl.tl._response_stream.LARGE_INPUT_CELLS``; in memory or backed,
    ``anndata.read_h5ad(path, backed="r")``) the cells are never held whole. One chunked pass checks them and
    measures, exactly, each cell's detected genes and row z-score and each gene's mean and spread over the
    scored cells; the default method, linear, is fitted on the reference alone and scores the cells chunk by
    chunk with the same probabilities as in memory (to rounding). Other methods load the scored cells, as below
    that size. The domain (step 5) then takes a bounded-cost path: the PCA is fitted on a seeded sample of
    20,000 cells, a cell's neighbours are searched among the cells of its sample within its block of 512
    consecutive cells (as stored), and the correlations are computed chunk by chunk in float32; files ordered
    by sample (and by cluster or at random within it) keep similar cells in each block.
    ``params["large_input"]`` and ``params["domain"]["approximation"]`` record it.

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
        ``"decomposed_ridge"`` (default; :class:`sctl.models.baselines.DecomposedRidge`, sctl): the drug's z-scored
        response of every tested line (not only the labelled extremes), regressed on expression as the line's general
        sensitivity plus its response specific to ``drug``, each part a ridge regression; why it is the default:
        :doc:`/methods/decomposed_ridge`. ``"ensemble"``: the mean probability of the signature score, the random forest
        and ATSDPNet, each learnt as on its own (members set by ``model_kwargs={"members": [...]}``, any two or more of
        the names here; per-member arguments as ``model_kwargs={"atsdp": {...}}``). A classifier fitted on the
        reference's labelled lines, a name of :func:`sctl.models.baselines.get_baseline` (``"signature"``, ``"rf"``,
        ``"logreg"``, ``"gb"``, ``"svm"``, ``"dt"``, ``"xgb"``), or a transfer model trained on the reference and the
        (unlabelled) cells together: ``"pathway_transfer"`` (:class:`sctl.models.PathwayTransfer`,
        :cite:t:`he2025transfer`) or ``"atsdp"`` (:class:`sctl.models.ATSDPNet`, :cite:t:`zhou2025atsdpnet`).
    model
        A trained model with ``predict(adata) -> probabilities`` (:class:`ResponseModel`), used instead of
        learning from ``reference``. It receives ``adata`` as it is and does its own preprocessing.
    mod
        When ``adata`` is a MuData: the modality holding the cells (may be omitted if it is the only one).
    reference_mod
        The modality holding the bulk reference: of ``reference`` when it is a MuData, else of ``adata``.
    batch_key
        Column of ``adata.obs`` naming each cell's sample. All samples are standardised together, gene by gene,
        so their probabilities are on one scale and comparable (a sample of resistant cells scored with others
        keeps its low probabilities; scored alone it would be spread around the middle). A cell is averaged
        only with cells of its own sample for the domain (step 5). ``None``: one sample.
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
        Z-score each profile across the shared genes before the per-gene z-score (step 2). A cell's overall level and
        spread follow its library size and detection rate, which bulk lines never vary along; the shipped GDSC
        expression is already z-scored this way (measured effect: :doc:`/methods/evaluation`). ``False``: per-gene
        z-scores only, the papers' preprocessing. ``None`` (default): ``True``, except for a transfer model under
        ``model_kwargs={"preset": "paper"}``, which takes its paper's preprocessing.
    seed
        Seed of the classifier.
    model_kwargs, train_kwargs
        For the transfer models (also as members of the ensemble): passed to the model's constructor and to its
        ``train`` (e.g. ``model_kwargs={"n_heads": 4}``, ``train_kwargs={"max_epochs": 50}``). For a baseline,
        ``model_kwargs`` are its estimator's arguments (e.g. ``{"C": 0.5}`` for ``"logreg"``). For
        ``method="ensemble"``, ``model_kwargs`` holds ``"members"`` and per-member ``model_kwargs`` keyed by
        member name. Names a method does not accept raise a :class:`ValueError` listing the accepted ones.
    key_added
        Results go to ``adata.obs[key_added]`` (call) and ``adata.obs[f"{key_added}_proba"]``. Columns of that
        name not written by an earlier call (no ``adata.uns[key_added]["params"]``), e.g. a truth column, are
        never overwritten: a :class:`ValueError` asks for another name.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or a copy of ``adata`` (AnnData or MuData) when ``copy=True``. Sets, on the cells
    (``adata``, or ``adata.mod[mod]`` for a MuData)

    ``adata.obs[f"{key_added}_proba"]``
        probability of sensitivity, in [0, 1], as the reference's labels define it. It is fitted on the reference lines
        (the decomposed ridge and the signature score through a Platt fit, the forest as its share of trees, the
        ensemble as their mean; the transfer models through their sigmoid output, which tends to be over-confident: see
        :doc:`/methods/evaluation`). On cells from another platform, read it as a ranking first (which cells look most
        like the sensitive lines), then as a probability: its level shifts with the sample (a tumour of one line has no
        "average line"), so compare cells within a sample and treat ``threshold`` as a convention, not a boundary learnt
        on the cells;
    ``adata.obs[key_added]``
        categorical call, ``"sensitive"`` / ``"resistant"``, and ``"uncertain"`` (a third category, present only
        when used) for cells outside the reference's domain or not scored;
    ``adata.obs["sctl_reference_similarity"]``, ``adata.obs["sctl_in_domain"]``
        with ``reference=``: each cell's similarity to the reference (step 5; NaN when not scored) and whether
        it lies in the reference's domain;
    ``adata.uns[key_added]["params"]``
        the parameters, the label rule, the number of shared genes and of labelled reference lines (and the
        ``members`` of an ensemble); with ``reference=`` also ``n_cells_scored``, ``n_cells_too_few_genes`` and
        ``domain`` (the cutoff, the null quantile it derives from, and the number of cells in and outside;
        for a large input, ``approximation``), and for a large input ``large_input`` (the size above which the
        cells are read in chunks, whether the method scored them chunk by chunk, and the chunk size).

    Every error is raised before anything is written: ``adata`` and ``reference`` are then left as they were.

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
    _check_key_added(cells, key_added)
    domain = None
    if model is not None:
        if reference is not None:
            raise ValueError("Pass either `model=` (already trained) or `reference=` (to train on), not both.")
        proba = _predict_with_model(model, cells, layer)
        params: dict[str, Any] = {"model": type(model).__name__, "layer": layer}
    elif reference is not None:
        if drug is None:
            raise ValueError("Name the drug whose response to learn from the reference: `drug=...`.")
        task = ResponseTask(
            drug=drug,
            key=key,
            label_rule={"method": label_method, "k": k, "threshold": label_threshold},
            layers=(layer, reference_layer),
            min_shared=min_shared,
            standardize_rows=standardize_rows,
            seed=seed,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
        )
        reference = check_anndata(reference, "reference")
        proba, domain, params = learn_within_domain(
            cells,
            reference,
            task,
            batch_key,
            lambda scored: learn_response(scored, reference, task, method),
            [drug],
            _streamed(reference, task) if method == DECOMPOSED else None,
        )
    else:
        raise ValueError(
            "Nothing to predict with: pass `reference=` (bulk cell lines with a response table, e.g. "
            "`sctl.datasets.gdsc()`) and `drug=`, or a trained `model=`. With a MuData holding the bulk, "
            "name its modality: `reference_mod='bulk'`."
        )

    cells = cells.copy() if copy and mdata is None else cells
    in_domain = None if domain is None else domain[IN_DOMAIN_KEY]
    _write_response(cells, proba, threshold, key_added, in_domain)
    columns = [key_added, f"{key_added}_proba"]
    if domain is not None:
        for column, values in domain.items():
            cells.obs[column] = values
        columns += list(domain)
    cells.uns[key_added] = {"params": {**params, "threshold": threshold}}
    if mdata is not None:
        pull_obs_columns(mdata, cells, columns)
    return (cells if mdata is None else mdata) if copy else None


def _streamed(reference: AnnData, task: ResponseTask) -> Callable[[CellScan], tuple[np.ndarray, dict[str, Any]]]:
    """The decomposed ridge scoring a large input's scan chunk by chunk: probabilities of its scored cells."""

    def learn(scan: CellScan) -> tuple[np.ndarray, dict[str, Any]]:
        proba, _, params = stream_decomposed(scan, reference, task, [task.drug])
        return proba[:, 0], params

    return learn


def _check_key_added(cells: AnnData, key_added: str) -> None:
    """Refuse to overwrite ``obs`` columns named like the results unless an earlier call wrote them."""
    existing = [c for c in (key_added, f"{key_added}_proba") if c in cells.obs.columns]
    written_by_sctl = isinstance(cells.uns.get(key_added), dict) and "params" in cells.uns[key_added]
    if existing and not written_by_sctl:
        raise ValueError(
            f"`adata.obs` already holds {preview(existing)}, not written by `sctl.tl.predict_response` (no "
            f"`adata.uns[{key_added!r}]['params']`). Pass another `key_added=` (default {RESPONSE_KEY!r}) or drop "
            "those columns first."
        )


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
    return check_probabilities(proba, adata.n_obs, type(model).__name__)


def _write_response(
    adata: AnnData, proba: np.ndarray, threshold: float, key_added: str, in_domain: np.ndarray | None = None
) -> None:
    """Write the probability and the call; NaN probabilities and cells outside the domain are ``"uncertain"``."""
    calls = np.where(proba >= threshold, RESPONSE_CATEGORIES[1], RESPONSE_CATEGORIES[0]).astype(object)
    uncertain = np.isnan(proba) if in_domain is None else np.isnan(proba) | ~in_domain
    calls[uncertain] = UNCERTAIN
    categories = [*RESPONSE_CATEGORIES, UNCERTAIN] if uncertain.any() else list(RESPONSE_CATEGORIES)
    adata.obs[f"{key_added}_proba"] = proba
    adata.obs[key_added] = pd.Categorical(calls, categories=categories)
