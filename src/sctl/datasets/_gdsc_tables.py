"""Readers of the files of a GDSC screen: the long response table, expression, cell-line and drug annotations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._validate import preview
from sctl.datasets._utils import PathLike, check_columns, check_numeric, read_table, report

CELL_LINE_COLUMN = "CELL_LINE_NAME"
DRUG_COLUMN = "DRUG_NAME"
METRICS = ("LN_IC50", "AUC")


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
    check_numeric(
        frame, "The expression table, apart from its first column (cell-line ids),", "Remove annotation columns first."
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


__all__ = ["read_cell_lines", "read_drugs", "read_expression", "read_gdsc_response"]
