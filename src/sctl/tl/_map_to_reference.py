"""Map patients or samples to their most similar reference cell line by expression (GRIP-Lung, section 4.9)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy.stats import rankdata

from sctl._constants import MIN_SHARED_GENES
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, get_matrix, preview, to_dense
from sctl.pp._align import align_genes

MAP_KEY = "sctl_reference"
SIMILARITY_METHODS = ("pearson", "spearman", "cosine")


@doc_params()
def map_to_reference(
    adata: AnnData,
    reference: AnnData,
    *,
    model: Any = None,
    method: str = "pearson",
    layer: str | None = None,
    reference_layer: str | None = None,
    genes: Sequence[str] | None = None,
    standardize: bool | None = None,
    min_shared: float | int = MIN_SHARED_GENES,
    key_added: str = MAP_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Assign each sample (e.g. a patient's tumour) its most similar reference cell line.

    GRIP-Lung (section 4.9) maps "the untreated expression profile of the patient ... to the most similar cell
    line in the training dataset on the basis of expression similarity" and predicts the patient's response with
    that cell line's embedding, after "normalization procedures identical to those applied to the training data".

    With ``model`` (a trained :class:`sctl.models.GRIP`) that is what happens: the reference is restricted to the
    model's cell lines and genes, and samples and reference lines are both standardised with the model's fitted
    input scaling (:attr:`sctl.models.GRIP.input_scaling`), so a single patient can be mapped. Without a model,
    both data sets are restricted to their shared genes (:func:`sctl.pp.align_genes`) and each gene is
    standardised within each domain (samples and reference lines separately: zero mean, unit variance), which
    removes the platform and batch offsets between, say, patient RNA-seq and cell-line microarrays but needs
    several samples. Every sample is then compared with every reference line across genes.

    Parameters
    ----------
    adata
        Samples x genes, log-scale expression in ``X`` or ``layer``. Without ``model`` and with
        standardisation it needs at least two samples (a gene's spread within the samples is what is compared).
    reference
        Reference cell lines x genes, e.g. :func:`sctl.datasets.gdsc` or the mean basal profile of each training
        line; its ``obs_names`` are the labels written (with ``model``, those of the model's cell lines).
    model
        A trained model with ``cell_lines``, ``var_names`` and ``input_scaling`` (:class:`sctl.models.GRIP`):
        map onto its cell lines on its genes, standardised with its training scaling.
    method
        Similarity across genes: ``"pearson"``, ``"spearman"`` (Pearson on the within-profile ranks) or
        ``"cosine"``.
    layer, reference_layer
        Layers holding the expression of ``adata`` and ``reference`` (default: ``X``).
    genes
        Compare on these genes only (e.g. highly variable or landmark genes); they must be in both data sets.
    standardize
        Without ``model``: standardise each gene within each domain before comparing (default ``True``). Turn it
        off only when both data sets were normalised together (e.g. by :func:`sctl.pp.harmonize`). With
        ``model`` leave it unset: the model's scaling is used.
    min_shared
        Fewest shared genes accepted, passed to :func:`sctl.pp.align_genes` (a number of genes, default 500, or
        a fraction of the reference's genes).
    key_added
        Prefix of the fields written.
    {copy}

    {returns_copy}
    Sets

    ``adata.obs[key_added]``
        categorical, the most similar reference line of each sample;
    ``adata.obs[f"{key_added}_similarity"]``
        its similarity;
    ``adata.obsm[f"{key_added}_similarity"]``
        DataFrame, samples x reference lines, every similarity;
    ``adata.uns[key_added]["params"]``
        the method, layers, scaling (``"model"``, ``"within_domain"`` or ``"none"``), the model's class and
        preset, and the numbers of genes and reference lines compared.

    Examples
    --------
    >>> import sctl
    >>> lines = sctl.datasets.gdsc()
    >>> patients = lines[:20].copy()  # stand-in for patient profiles on the same genes
    >>> sctl.tl.map_to_reference(patients, lines)
    >>> bool((patients.obs["sctl_reference"] == patients.obs_names).all())
    True
    >>> sctl.tl.map_to_reference(one_patient, basal_lines, model=grip)  # doctest: +SKIP
    """
    check_anndata(adata)
    check_anndata(reference, "reference")
    if method not in SIMILARITY_METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {preview(SIMILARITY_METHODS)}.")
    if model is not None:
        if standardize is not None:
            raise ValueError(
                "With `model=`, samples and reference are standardised with the model's fitted scaling; leave "
                "`standardize` unset (or drop `model=` to standardise within each domain)."
            )
        reference, genes = _model_reference(model, reference, genes)
    standardize = model is None and standardize is not False
    if standardize and adata.n_obs < 2:
        raise ValueError(
            "`standardize=True` z-scores each gene across the samples, which needs at least two samples. "
            "Pass the trained model (`model=`) to use its training scaling instead, map several samples together, "
            "or pass `standardize=False` if the data were normalised with the reference."
        )
    query_x, reference_x, shared = _shared_matrices(adata, reference, layer, reference_layer, genes, min_shared)
    if model is not None:
        mean, std = (values[pd.Index(model.var_names).get_indexer(shared)] for values in model.input_scaling)
        query_x, reference_x = (query_x - mean) / std, (reference_x - mean) / std
    elif standardize:
        query_x, reference_x = _standardize(query_x), _standardize(reference_x)
    similarity = pd.DataFrame(
        _similarity(query_x, reference_x, method), index=adata.obs_names.copy(), columns=reference.obs_names.copy()
    )
    best = similarity.to_numpy().argmax(axis=1)

    adata = adata.copy() if copy else adata
    lines = reference.obs_names.astype(str)
    adata.obs[key_added] = pd.Categorical(lines[best], categories=pd.unique(lines[best]))
    adata.obs[f"{key_added}_similarity"] = similarity.to_numpy()[np.arange(adata.n_obs), best]
    adata.obsm[f"{key_added}_similarity"] = similarity
    adata.uns[key_added] = {
        "params": {
            "method": method,
            "layer": layer,
            "reference_layer": reference_layer,
            "scaling": "model" if model is not None else "within_domain" if standardize else "none",
            "model": None if model is None else type(model).__name__,
            "preset": getattr(model, "preset", None),
            "n_genes": len(shared),
            "n_reference": int(reference.n_obs),
        }
    }
    return adata if copy else None


def _model_reference(model: Any, reference: AnnData, genes: Sequence[str] | None) -> tuple[AnnData, list[str]]:
    """The reference lines the model knows, and the genes to compare on (the model's, or ``genes`` among them)."""
    missing = [name for name in ("cell_lines", "var_names", "input_scaling") if not hasattr(type(model), name)]
    if missing:
        raise TypeError(
            f"`model` must be a trained model with cell lines and a fitted input scaling, such as sctl.models.GRIP; "
            f"{type(model).__name__} has no {preview(missing)}."
        )
    known = reference.obs_names.isin([str(line) for line in model.cell_lines])
    if not known.any():
        raise ValueError(
            f"None of the reference's lines ({preview(reference.obs_names, 5)}) is a cell line of the model "
            f"({preview(model.cell_lines, 5)}); name the reference rows after the model's cell lines."
        )
    model_genes = list(model.var_names)
    if genes is not None:
        outside = pd.Index(genes).difference(model_genes)
        if len(outside):
            raise ValueError(f"{len(outside)} of `genes` are not genes of the model, e.g. {preview(outside, 5)}.")
        model_genes = list(pd.unique(np.asarray(genes, dtype=str)))
    return reference[known], model_genes


def _shared_matrices(
    adata: AnnData,
    reference: AnnData,
    layer: str | None,
    reference_layer: str | None,
    genes: Sequence[str] | None,
    min_shared: float | int,
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Dense float64 matrices of both data sets on their shared genes (in reference order), NaN checked."""
    get_matrix(adata, layer)
    get_matrix(reference, reference_layer)
    if genes is not None:
        genes = pd.Index(pd.unique(np.asarray(genes, dtype=str)))
        for data, name in ((adata, "adata"), (reference, "reference")):
            missing = genes.difference(data.var_names)
            if len(missing):
                raise ValueError(
                    f"{len(missing)} of the {len(genes)} `genes` are not in `{name}` (e.g. {preview(missing, 5)}). "
                    "Pass genes present in both, e.g. `genes=adata.var_names.intersection(reference.var_names)`."
                )
        adata, reference = adata[:, genes], reference[:, genes]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reference genes found in query.*", category=UserWarning)
        ref, query = align_genes(reference, adata, min_shared=min_shared)
    query_x = to_dense(get_matrix(query, layer), np.float64)
    reference_x = to_dense(get_matrix(ref, reference_layer), np.float64)
    check_finite(query_x, "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`")
    check_finite(
        reference_x, "`reference.X`" if reference_layer is None else f"`reference.layers[{reference_layer!r}]`"
    )
    if query_x.shape[1] < 3:
        raise ValueError(f"Only {query_x.shape[1]} shared genes: a similarity across genes needs at least 3.")
    return query_x, reference_x, ref.var_names


def _standardize(x: np.ndarray) -> np.ndarray:
    """Z-score each gene (column); constant genes become 0."""
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd


def _similarity(query: np.ndarray, reference: np.ndarray, method: str) -> np.ndarray:
    """Samples x reference lines similarity across genes."""
    if method == "spearman":
        query, reference = rankdata(query, axis=1), rankdata(reference, axis=1)
    if method in ("pearson", "spearman"):
        query = query - query.mean(axis=1, keepdims=True)
        reference = reference - reference.mean(axis=1, keepdims=True)
    norm_q = np.linalg.norm(query, axis=1, keepdims=True)
    norm_r = np.linalg.norm(reference, axis=1, keepdims=True)
    norm_q[norm_q == 0] = 1.0
    norm_r[norm_r == 0] = 1.0
    return (query / norm_q) @ (reference / norm_r).T
