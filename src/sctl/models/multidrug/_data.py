"""Bulk lines with their whole response table and unlabelled cells, in one AnnData for :class:`MultiDrugTransfer`."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY, MIN_SHARED_GENES, RESPONSE_CATEGORIES
from sctl._stream import describe
from sctl._validate import check_anndata, check_finite, check_response, closest, get_matrix, preview, to_dense
from sctl.models._transfer._data import (
    BULK,
    CELLS,
    DOMAIN_KEY,
    MIN_PER_CLASS,
    _check_enough_labels,
    aligned_domains,
    standardization,
)
from sctl.pp._specific import MIN_DRUGS, split_response

MULTIDRUG_KEY = "sctl_multidrug"
#: obs column of each line's general sensitivity (NaN on cells)
GENERAL_KEY = "sctl_general"
#: obsm table of each line's z-scored response to every modelled drug (NaN on cells and untested lines)
RESPONSE_Z_KEY = "sctl_response_z"
#: fewest tested lines for a drug to be modelled (a z-score over fewer lines is mostly noise)
MIN_LINES = 100
#: most cells kept for training (they enter only through the domain terms); the rest are drawn out at random
MAX_CELLS = 1000


def multidrug_data(
    reference: AnnData,
    cells: AnnData,
    drugs: str | Sequence[str] | None = None,
    *,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    reference_layer: str | None = None,
    genes: Sequence[str] | pd.Index | None = None,
    min_shared: float | int = MIN_SHARED_GENES,
    standardize_rows: bool = True,
    n_top_genes: int | None = None,
    min_lines: int = MIN_LINES,
    min_drugs: int = MIN_DRUGS,
    max_cells: int | None = MAX_CELLS,
    seed: int = 0,
) -> AnnData:
    """Join bulk lines, with their response to many drugs split into general and specific parts, and cells.

    As :func:`sctl.models.transfer_data` does for one drug (gene alignment, per-profile then per-domain per-gene
    z-scores, bulk stacked over cells), with the whole response table instead of one drug's labels:

    1. the *panel* is every drug of ``reference.obsm[key]`` tested on at least ``min_lines`` lines; each panel
       drug's response is z-scored over its tested lines, ``z[l, d]``; a line's general sensitivity ``g[l]`` is
       its mean z over the panel drugs it was tested with (NaN with fewer than ``min_drugs``), the split of
       :func:`sctl.pp.drug_specific_response`;
    2. ``drugs`` (default: the panel) are the drugs modelled, each labelled sensitive / resistant on the lines
       by :func:`sctl.pp.binarize_response` (the labels calibrate the model's probabilities; at least 5 lines
       of each class are needed);
    3. at most ``max_cells`` cells are kept, drawn at random (they carry no label and enter only through the
       model's domain terms); labels the cells carry are never read.

    Parameters
    ----------
    reference
        Bulk cell lines x genes with the response table ``reference.obsm[key]`` (e.g. :func:`sctl.datasets.gdsc`).
    cells
        Cells x genes (log-normalised ``X`` by default). Not modified.
    drugs
        Drugs to model, columns of ``reference.obsm[key]`` in the panel; ``None``: the whole panel.
    key
        Response table, ``"ln_ic50"`` or ``"auc"`` (low = sensitive for both).
    label_method, k, label_threshold
        Label rule, passed to :func:`sctl.pp.binarize_response` as ``method``, ``k`` and ``threshold``.
    layer, reference_layer
        Layers holding the expression of ``cells`` and ``reference`` (``None``: ``X``).
    genes, min_shared, standardize_rows, n_top_genes
        As in :func:`sctl.models.transfer_data`.
    min_lines
        Fewest tested lines for a drug to enter the panel.
    min_drugs
        Fewest panel drugs a line must be tested with to have a general sensitivity (and to be trained on).
    max_cells
        Most cells kept (``None``: all). The standardisation of the kept cells is that of a random sample of
        the tumour; the model standardises the cells it predicts on themselves.
    seed
        Seed of the choice of cells.

    Returns
    -------
    Lines and cells x shared genes: ``X`` dense ``float32`` (z-scored per domain); ``obs["sctl_domain"]``
    (``"bulk"`` / ``"cells"``), ``obs["sctl_source"]`` (the original obs name), ``obs["sctl_general"]``
    (``g``, NaN on cells); ``obsm["sctl_response_z"]`` (z of every modelled drug, NaN on cells and where
    untested), ``obsm["sctl_label"]`` (``"sensitive"`` / ``"resistant"`` / NaN per drug);
    ``uns["sctl_multidrug"]`` records the parameters, the drugs, the panel and the counts.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.realistic_tumor(["Dabrafenib", "Docetaxel"], mode="drug_pair", n_cells=200)
    >>> data = sctl.models.multidrug_data(bulk, cells)
    >>> data.obsm["sctl_response_z"].shape  # doctest: +SKIP
    (1119, 40)
    """
    check_anndata(reference, "reference")
    check_anndata(cells, "cells")
    response = check_response(reference, key)
    panel = _panel(response, min_lines, min_drugs, key)
    drugs = resolve_drugs(drugs, response, panel, min_lines, key)
    for adata, name, layer_ in ((reference, "reference", reference_layer), (cells, "cells", layer)):
        check_finite(get_matrix(adata, layer_), f"the expression of `{name}` ({describe(layer_)})")
    values = response[panel].astype(np.float64)
    _, general = split_response(values, min_drugs)
    z = ((values - values.mean()) / values.std())[drugs]  # the z-scores split_response splits
    labels = _labels(response, drugs, key, {"method": label_method, "k": k, "threshold": label_threshold})
    n_cells_total = cells.n_obs
    cells = _sample_cells(cells, max_cells, seed)
    bulk, cells, hvg_method = aligned_domains(
        reference,
        cells,
        genes,
        min_shared,
        n_top_genes,
        layers=(reference_layer, layer),
        standardize_rows=standardize_rows,
    )
    data = _stack(bulk, cells, general, z, labels)
    data.uns[MULTIDRUG_KEY] = {
        "params": {
            "key": key,
            "label_rule": {"method": label_method, "k": k, "threshold": label_threshold},
            "layer": layer,
            "reference_layer": reference_layer,
            "standardization": standardization(standardize_rows),
            "standardize_rows": standardize_rows,
            "n_top_genes": n_top_genes,
            "highly_variable": hvg_method,
            "min_lines": min_lines,
            "min_drugs": min_drugs,
            "max_cells": max_cells,
            "seed": seed,
        },
        "drugs": list(drugs),
        "panel": list(panel),
        "n_lines": int(bulk.n_obs),
        "n_lines_with_general": int(general.reindex(bulk.obs_names).notna().sum()),
        "n_cells": int(cells.n_obs),
        "n_cells_total": int(n_cells_total),
        "n_genes": int(data.n_vars),
    }
    return data


def _panel(response: pd.DataFrame, min_lines: int, min_drugs: int, key: str) -> pd.Index:
    """Drugs tested on at least ``min_lines`` lines with two distinct responses, the general-sensitivity axis."""
    for name, value, least in (("min_lines", min_lines, MIN_PER_CLASS * 2), ("min_drugs", min_drugs, 2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"`{name}` must be an integer of at least {least}, got {value!r}.")
    values = response.apply(pd.to_numeric, errors="coerce")
    tested = values.notna().sum()
    panel = response.columns[(tested >= min_lines).to_numpy() & (values.std() > 0).to_numpy()]
    if len(panel) < min_drugs:
        raise ValueError(
            f"Only {len(panel)} drugs of `reference.obsm[{key!r}]` are tested on at least {min_lines} lines "
            f"(most tested: {int(tested.max()) if len(tested) else 0} lines); a general sensitivity needs "
            f"`min_drugs={min_drugs}`. Lower `min_lines` (a small reference) or `min_drugs`, or use a larger table."
        )
    return panel


def resolve_drugs(
    drugs: str | Sequence[str] | None, response: pd.DataFrame, panel: pd.Index, min_lines: int, key: str
) -> list[str]:
    """The modelled drugs: the panel, or ``drugs`` checked to be panel drugs (unknown names get a hint)."""
    if drugs is None:
        return [str(d) for d in panel]
    drugs = [drugs] if isinstance(drugs, str) else list(drugs)
    if not drugs:
        raise ValueError("`drugs` is empty; name at least one drug, or pass None for every drug of the panel.")
    repeated = pd.Index(drugs)[pd.Index(drugs).duplicated()]
    if len(repeated):
        raise ValueError(f"`drugs` names {preview(repeated.unique())} more than once.")
    for drug in drugs:
        if drug not in response.columns:
            raise KeyError(
                f"Drug {drug!r} is not in `reference.obsm[{key!r}]`.{closest(drug, response.columns)} "
                f"Known drugs ({response.shape[1]}): {preview(sorted(map(str, response.columns)))}."
            )
        if drug not in panel:
            raise ValueError(
                f"Drug {drug!r} is tested on {int(response[drug].notna().sum())} lines, fewer than `min_lines="
                f"{min_lines}` (or its response is constant); lower `min_lines` to model it."
            )
    return [str(d) for d in drugs]


def _labels(response: pd.DataFrame, drugs: list[str], key: str, rule: dict) -> pd.DataFrame:
    """Sensitive / resistant label of every line for every drug (:func:`sctl.pp.binarize_response`), checked."""
    table = AnnData(obs=pd.DataFrame(index=response.index.copy()), obsm={key: response})
    labels = {}
    for drug in drugs:
        pp.binarize_response(table, drug, key=key, key_added=LABEL_KEY, **rule)
        _check_enough_labels(table.obs[LABEL_KEY], drug, MIN_PER_CLASS, response=response[drug])
        labels[drug] = table.obs[LABEL_KEY].astype(object)
    return pd.DataFrame(labels, index=response.index)


def _sample_cells(cells: AnnData, max_cells: int | None, seed: int) -> AnnData:
    if max_cells is None or cells.n_obs <= max_cells:
        return cells
    if isinstance(max_cells, bool) or not isinstance(max_cells, numbers.Integral) or max_cells < 2:
        raise ValueError(f"`max_cells` must be an integer of at least 2 or None, got {max_cells!r}.")
    keep = np.sort(np.random.default_rng(seed).choice(cells.n_obs, size=max_cells, replace=False))
    return cells[keep]


def _stack(bulk: AnnData, cells: AnnData, general: pd.Series, z: pd.DataFrame, labels: pd.DataFrame) -> AnnData:
    lines = bulk.obs_names
    names = pd.Index([f"{BULK}:{n}" for n in lines] + [f"{CELLS}:{n}" for n in cells.obs_names])
    obs = pd.DataFrame(
        {
            DOMAIN_KEY: pd.Categorical([BULK] * bulk.n_obs + [CELLS] * cells.n_obs, categories=[BULK, CELLS]),
            "sctl_source": np.r_[lines.to_numpy(dtype=object), cells.obs_names.to_numpy(dtype=object)],
            GENERAL_KEY: np.r_[general.reindex(lines).to_numpy(np.float64), np.full(cells.n_obs, np.nan)],
        },
        index=names,
    )
    z_all = pd.DataFrame(np.nan, index=names, columns=z.columns, dtype=np.float64)
    z_all.iloc[: bulk.n_obs] = z.reindex(lines).to_numpy(np.float64)
    label_all = pd.DataFrame(np.nan, index=names, columns=labels.columns, dtype=object)
    label_all.iloc[: bulk.n_obs] = labels.reindex(lines).to_numpy(dtype=object)
    label_all = label_all.apply(lambda column: pd.Categorical(column, categories=list(RESPONSE_CATEGORIES)))
    X = np.vstack([to_dense(bulk.X), to_dense(cells.X)])
    data = AnnData(X, obs=obs, var=pd.DataFrame(index=bulk.var_names.copy()))
    data.obsm[RESPONSE_Z_KEY] = z_all
    data.obsm[LABEL_KEY] = label_all
    return data
