"""Readers and writer of the Connectivity Map formats: GCT 1.2 / 1.3 text and GCTX (HDF5)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence

import h5py
import numpy as np
import pandas as pd
from anndata import AnnData
from anndata.utils import make_index_unique

from sctl._validate import check_anndata, preview, to_dense
from sctl.datasets._utils import PathLike, as_existing_path, decoding, open_text

# values CMap uses for "missing / not applicable" in metadata (-666 is its sentinel)
_MISSING = ("", "na", "NA", "nan", "NaN", "NULL", "-666", "-666.0", "-666.000")
_DATA_NA = ["", "na", "NA", "nan", "NaN", "-nan", "NULL", "#N/A"]
_MISSING_NUMBER = -666
_MATRIX = "0/DATA/0/matrix"
_COL_META = "0/META/COL"
_ROW_META = "0/META/ROW"


def convert_metadata(values: Sequence | np.ndarray) -> pd.Series:
    """Turn one metadata field into numbers when every non-missing value is numeric; CMap sentinels -> NaN."""
    series = pd.Series(values, dtype=object)
    if len(series) and not isinstance(series.iloc[0], str):
        numbers = pd.to_numeric(series, errors="coerce")
        return _as_int_if_whole(numbers.where(numbers != _MISSING_NUMBER))
    series = series.where(~series.isin(_MISSING))
    numbers = pd.to_numeric(series, errors="coerce")
    if series.notna().any() and (numbers.notna() == series.notna()).all():
        return _as_int_if_whole(numbers)
    return series


def _as_int_if_whole(numbers: pd.Series) -> pd.Series:
    numbers = numbers.astype(np.float64)
    if numbers.notna().all() and len(numbers) and (numbers % 1 == 0).all():
        return numbers.astype(np.int64)
    return numbers


def _read_lines(path: PathLike) -> list[str]:
    with open_text(path, "GCT file") as handle, decoding(path, "GCT file"):
        text = handle.read()
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[0].strip() in ("#1.2", "#1.3") and not text.endswith(("\n", "\r")):
        raise ValueError(
            f"The GCT file is truncated: it does not end with a line break, so its last line ({lines[-1][-40:]!r}) "
            "may be cut in the middle of a value. Re-export or re-download the file; if it is complete, add the "
            "final line break."
        )
    return lines


def _parse_dimensions(lines: list[str]) -> tuple[str, int, int, int, int]:
    """Return the version and ``(n_rows, n_cols, n_row_meta, n_col_meta)`` from the first two lines."""
    version = lines[0].strip() if lines else ""
    if version not in ("#1.2", "#1.3"):
        raise ValueError(
            f"Line 1 of a GCT file must be '#1.2' or '#1.3', found {version[:40]!r}. "
            "Check that this is a GCT text file (use `read_gctx` for HDF5 .gctx files)."
        )
    if len(lines) < 2:
        raise ValueError("The GCT file is truncated: it ends after line 1, before the dimension line (line 2).")
    n_expected = 4 if version == "#1.3" else 2
    meaning = "rows, columns, row-metadata fields, column-metadata fields" if n_expected == 4 else "rows, columns"
    fields = lines[1].split() if len(lines) > 1 else []
    if len(fields) != n_expected or not all(field.isdigit() for field in fields):
        raise ValueError(
            f"Line 2 of a GCT {version[1:]} file must hold {n_expected} non-negative integers "
            f"({meaning}), "
            f"found {' '.join(fields)[:80]!r}. Fix the dimension line."
        )
    numbers = [int(field) for field in fields]
    if len(lines) < 3:
        raise ValueError(
            f"The GCT file is truncated: it ends after line {len(lines)}, before the header (line 3) and the "
            f"{numbers[0]} data rows line 2 announces. Re-export or re-download the file."
        )
    if version == "#1.2":
        numbers += [1, 0]  # the Description column is the only row metadata
    return version, *numbers


def _check_layout(lines: list[str], n_rows: int, n_fields: int, n_col_meta: int) -> None:
    """Check the number of lines and of tab-separated fields per line against the dimension line."""
    n_lines = 3 + n_col_meta + n_rows
    if len(lines) < n_lines:
        raise ValueError(
            f"The GCT file is truncated: line 2 announces {n_col_meta} column-metadata and {n_rows} "
            "data rows "
            f"({n_lines} lines in all), but it has {len(lines)} lines. Re-export or re-download the file."
        )
    if len(lines) > n_lines:
        raise ValueError(
            f"Line {n_lines + 1} of the GCT file is past the {n_rows} data rows announced on line 2. "
            "Fix the row count on line 2 or remove the extra lines."
        )
    for number in range(3, n_lines + 1):
        found = lines[number - 1].count("\t") + 1
        if found != n_fields:
            raise ValueError(
                f"Line {number} of the GCT file has {found} tab-separated fields, but line 2 implies "
                f"{n_fields} "
                "(id, row-metadata fields, one value per sample). Fix that line or the dimension line."
            )


def _unique_ids(ids: Sequence[str], what: str, line: str) -> pd.Index:
    index = pd.Index([str(value) for value in ids])
    if not index.is_unique:
        raise ValueError(
            f"The {what} ids ({line}) are not unique: {preview(index[index.duplicated()].unique(), 5)}. "
            "A GCT file needs one id per row and per column."
        )
    return index


def _parse_data_block(lines: list[str], start: int, n_row_meta: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse the data rows: return the row metadata (as strings) and the values (float32, genes x samples)."""
    text = io.StringIO("\n".join(lines[start:]))
    meta_columns = {index: str for index in range(n_row_meta + 1)}
    block = pd.read_csv(
        text,
        sep="\t",
        header=None,
        dtype=meta_columns,
        keep_default_na=False,
        na_values=_DATA_NA,
        quoting=csv.QUOTE_NONE,
        low_memory=False,
    )
    values = block.iloc[:, n_row_meta + 1 :]
    for column in values.columns:
        if not pd.api.types.is_numeric_dtype(values[column]):
            numbers = pd.to_numeric(values[column], errors="coerce")
            row = int(np.flatnonzero(numbers.isna() & values[column].notna())[0])
            raise ValueError(
                f"Line {start + row + 1} of the GCT file holds the non-numeric value "
                f"{values[column].iloc[row]!r} "
                f"in sample column {column - n_row_meta}. Data values must be numbers (or NaN / empty)."
            )
    numbers = values.to_numpy(dtype=np.float64)
    too_large = np.abs(np.nan_to_num(numbers, nan=0.0)) > np.finfo(np.float32).max  # inf, or inf once in float32
    _refuse_infinite(
        too_large,
        lambda row, column, n: (
            f"Line {start + row + 1} of the GCT file holds the value {numbers[row, column]:g} in sample column "
            f"{column + 1} ({n} such values in all): infinite or beyond float32 (about 3.4e38)."
        ),
    )
    return block.iloc[:, : n_row_meta + 1], numbers.astype(np.float32)


def _refuse_infinite(infinite: np.ndarray, message: Callable[[int, int, int], str]) -> None:
    """Raise a :class:`ValueError` when ``infinite`` flags a data value, saying ``message(row, column, count)``.

    ``row`` and ``column`` place the first flagged value, ``count`` is how many there are.
    """
    if infinite.any():
        row, column = (int(i[0]) for i in np.nonzero(infinite))
        raise ValueError(
            f"{message(row, column, int(infinite.sum()))} Data values must be finite numbers (or NaN for a missing "
            "value)."
        )


def _index_var(var: pd.DataFrame, var_names: str | None, id_column: str) -> pd.DataFrame:
    """Index ``var`` by the metadata field ``var_names`` (made unique), keeping the original ids."""
    if var_names is None:
        return var
    if var_names not in var.columns:
        raise KeyError(
            f"`var_names={var_names!r}` is not a row-metadata field of the file. Fields: "
            f"{preview(var.columns)}. "
            "Pass one of them, or `var_names=None` to keep the row ids."
        )
    var = var.copy()
    var.insert(0, id_column, var.index.to_numpy())
    names = var[var_names].astype(object).where(var[var_names].notna(), var.index.to_series())
    var.index = make_index_unique(pd.Index(names.astype(str), name=None))
    return var


def read_gct(path: PathLike, *, var_names: str | None = None) -> AnnData:
    """Read a GCT 1.3 (or 1.2) text file of the Connectivity Map / LINCS into an AnnData.

    Samples (the file's columns) become observations with the column metadata in ``.obs``; genes or probes
    (the file's rows) become variables with the row metadata in ``.var``. Metadata fields whose values are all
    numeric (doses, times) are parsed as numbers; CMap's ``-666`` and ``na`` markers become NaN. Gzipped files
    are detected from their content.

    Parameters
    ----------
    path
        The ``.gct`` or ``.gct.gz`` file.
    var_names
        Row-metadata field to index ``.var`` by, e.g. ``"pr_gene_symbol"`` (made unique); the row ids then
        move to ``.var["rid"]``. By default the row ids.

    Returns
    -------
    Samples x genes, ``X`` float32 as stored (L1000 level 3 is log2 expression).

    Raises
    ------
    ValueError
        When the version line, the dimension line or the number of lines or fields do not fit (naming the
        line), when a value is infinite or beyond float32 (naming its line and column), or when the file is
        truncated (it must end with a line break, so that a value cut in the middle is never read as a shorter
        number).

    Examples
    --------
    >>> plate = sctl.datasets.read_gct("l1000_plate.gct.gz", var_names="pr_gene_symbol")  # doctest: +SKIP
    >>> plate.obs["pert_iname"].head()  # doctest: +SKIP
    """
    lines = _read_lines(path)
    _, n_rows, n_cols, n_row_meta, n_col_meta = _parse_dimensions(lines)
    n_fields = 1 + n_row_meta + n_cols
    header = lines[2].split("\t") if len(lines) > 2 else []
    if len(header) != n_fields:
        raise ValueError(
            f"Line 3 of the GCT file (the header) has {len(header)} tab-separated fields, but line 2 implies "
            f"{n_fields} (id, {n_row_meta} row-metadata fields, {n_cols} sample ids). Fix the header or "
            "line 2."
        )
    _check_layout(lines, n_rows, n_fields, n_col_meta)
    sample_ids = _unique_ids(header[1 + n_row_meta :], "sample", "line 3")
    obs = pd.DataFrame(index=sample_ids)
    for line in lines[3 : 3 + n_col_meta]:
        fields = line.split("\t")
        obs[fields[0]] = convert_metadata(fields[1 + n_row_meta :]).to_numpy()
    row_meta, values = _parse_data_block(lines, 3 + n_col_meta, n_row_meta)
    var = pd.DataFrame(index=_unique_ids(row_meta.iloc[:, 0], "row", f"lines {4 + n_col_meta}-{len(lines)}"))
    for position, name in enumerate(header[1 : 1 + n_row_meta], start=1):
        var[name] = convert_metadata(row_meta.iloc[:, position].to_numpy(dtype=object)).to_numpy()
    return AnnData(values.T.copy(), obs=obs, var=_index_var(var, var_names, "rid"))


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in ("S", "O"):
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values


def _read_meta(group: h5py.Group, where: str) -> pd.DataFrame:
    if "id" not in group:
        raise ValueError(f"The GCTX file has no '{where}/id' dataset. A GCTX file stores the ids there.")
    index = _unique_ids(_decode(group["id"][()]), "column" if where.endswith("COL") else "row", where)
    meta = pd.DataFrame(index=index)
    for name, dataset in group.items():
        if name == "id":
            continue
        values = _decode(np.asarray(dataset[()]).reshape(-1))
        if len(values) != len(index):
            raise ValueError(
                f"Metadata '{where}/{name}' holds {len(values)} values for {len(index)} ids. Fix or drop that field."
            )
        meta[name] = convert_metadata(values).to_numpy()
    return meta


def read_gctx(path: PathLike, *, var_names: str | None = None) -> AnnData:
    """Read a GCTX (HDF5) file of the Connectivity Map / LINCS into an AnnData.

    The layout is CMap's: values in ``/0/DATA/0/matrix``, stored samples x genes (HDF5 row-major, i.e. the
    transpose of the genes x samples view of GCT text), ids and metadata in ``/0/META/COL/*`` (samples) and
    ``/0/META/ROW/*`` (genes). Metadata is converted as in :func:`read_gct`.

    Parameters
    ----------
    path
        The ``.gctx`` file.
    var_names
        Row-metadata field to index ``.var`` by, e.g. ``"pr_gene_symbol"`` (ids then in ``.var["rid"]``).

    Returns
    -------
    Samples x genes, ``X`` float32.

    Examples
    --------
    >>> sigs = sctl.datasets.read_gctx("level5.gctx", var_names="pr_gene_symbol")  # doctest: +SKIP
    """
    path = as_existing_path(path, "GCTX file")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{str(path)!r} is not an HDF5 file. For GCT text files use `sctl.datasets.read_gct`.")
    with h5py.File(path, "r") as handle:
        for where in (_MATRIX, _COL_META, _ROW_META):
            if where not in handle:
                raise ValueError(
                    f"The GCTX file has no '/{where}'. Expected CMap's layout: /0/DATA/0/matrix, "
                    "/0/META/COL, "
                    "/0/META/ROW."
                )
        obs = _read_meta(handle[_COL_META], "/" + _COL_META)
        var = _read_meta(handle[_ROW_META], "/" + _ROW_META)
        matrix = handle[_MATRIX]
        if matrix.shape != (len(obs), len(var)):
            raise ValueError(
                f"'/{_MATRIX}' has shape {matrix.shape}, but there are {len(obs)} column (sample) ids and "
                f"{len(var)} row (gene) ids; CMap stores it samples x genes, i.e. {(len(obs), len(var))}. "
                "The file is malformed or was written with another layout."
            )
        values = matrix[()].astype(np.float32)
    _refuse_infinite(
        np.isinf(values),
        lambda sample, gene, n: (
            f"'/{_MATRIX}' holds {n} infinite values (or values beyond float32), the first for sample "
            f"{obs.index[sample]!r} (row {sample}) and gene {var.index[gene]!r} (column {gene})."
        ),
    )
    return AnnData(values, obs=obs, var=_index_var(var, var_names, "rid"))


def _write_meta(group: h5py.Group, ids: pd.Index, meta: pd.DataFrame, what: str) -> None:
    if "id" in meta.columns:
        raise ValueError(f"`adata.{what}` has a column named 'id', which GCTX reserves for the ids. Rename it first.")
    group.create_dataset("id", data=np.asarray(ids.astype(str), dtype=object), dtype=h5py.string_dtype())
    for name, column in meta.items():
        if pd.api.types.is_bool_dtype(column):
            group.create_dataset(str(name), data=column.to_numpy(dtype=np.int8))
        elif pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype):
            group.create_dataset(str(name), data=column.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            text = column.astype(object).where(column.notna(), str(_MISSING_NUMBER)).astype(str)
            group.create_dataset(str(name), data=text.to_numpy(dtype=object), dtype=h5py.string_dtype())


def write_gctx(adata: AnnData, path: PathLike) -> None:
    """Write an AnnData (samples x genes) as a GCTX (HDF5) file in CMap's layout.

    ``X`` goes to ``/0/DATA/0/matrix`` (float32, samples x genes), ``obs_names`` and the ``.obs`` columns to
    ``/0/META/COL``, ``var_names`` and the ``.var`` columns to ``/0/META/ROW``. Missing strings are written as
    CMap's ``-666``, booleans as 0/1. :func:`read_gctx` reads the file back.

    Parameters
    ----------
    adata
        Samples x genes; ``adata`` is not modified.
    path
        Output file (overwritten).

    Examples
    --------
    >>> sctl.datasets.write_gctx(plate, "plate.gctx")  # doctest: +SKIP
    """
    check_anndata(adata)
    values = to_dense(adata.X, np.float32)
    with h5py.File(path, "w") as handle:
        handle.attrs["version"] = "GCTX1.0"
        handle.create_dataset(_MATRIX, data=values, compression="gzip")
        _write_meta(handle.create_group(_COL_META), adata.obs_names, adata.obs, "obs")
        _write_meta(handle.create_group(_ROW_META), adata.var_names, adata.var, "var")
