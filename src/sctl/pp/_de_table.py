"""Differential-expression tables (cell type x compound x gene) as AnnData targets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._validate import preview


def de_to_anndata(
    table: pd.DataFrame,
    *,
    cell_type_key: str = "cell_type",
    compound_key: str = "sm_name",
    gene_key: str = "gene",
    value_key: str | None = None,
    meta_keys: Sequence[str] | None = None,
) -> AnnData:
    """Turn a differential-expression table into an AnnData with one observation per (cell type, compound).

    Two layouts are accepted:

    wide
        one row per (cell type, compound), one numeric column per gene, as the Open Problems single-cell
        perturbations ``de_train`` table (:cite:t:`ali2024deep`: cell type, ``sm_name``, ``sm_lincs_id``, ``SMILES``,
        then 18,211 genes of signed -log10 p-values);
    long
        one row per (cell type, compound, gene) with the value in ``value_key``; if ``value_key`` is ``None``
        and the table has ``logFC`` and ``P.Value`` (limma) columns, the value is the signed -log10 p-value
        ``sign(logFC) * -log10(P.Value)``, the competition target.

    Parameters
    ----------
    table
        The DE table, in either layout.
    cell_type_key, compound_key
        Columns with the cell type and the compound.
    gene_key
        Column with the gene in the long layout; its presence selects the long layout.
    value_key
        Column with the values in the long layout.
    meta_keys
        Extra per-(cell type, compound) columns kept in ``obs`` (e.g. ``sm_lincs_id``, ``SMILES``). In the wide
        layout every non-numeric or boolean column is kept in ``obs`` anyway.

    Returns
    -------
    AnnData with ``X`` = values (float32), ``obs`` = ``cell_type_key``, ``compound_key`` and the metadata
    (categorical), obs_names ``"<cell type>|<compound>"``, var_names = genes.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"cell_type": ["NK", "NK"], "sm_name": ["A", "A"], "gene": ["G1", "G2"],
    ...                      "value": [1.5, -2.0]})
    >>> de_to_anndata(long, value_key="value").shape
    (1, 2)
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"`table` must be a pandas DataFrame, got {type(table).__name__}.")
    for key in (cell_type_key, compound_key):
        if key not in table.columns:
            raise KeyError(f"Column {key!r} not found in the DE table (columns: {preview(table.columns)}).")
    meta_keys = list(meta_keys or [])
    if gene_key in table.columns:
        adata = _from_long(table, cell_type_key, compound_key, gene_key, value_key, meta_keys)
    else:
        adata = _from_wide(table, cell_type_key, compound_key, meta_keys)
    if not np.isfinite(adata.X).all():
        raise ValueError(
            f"The DE table leaves {int((~np.isfinite(adata.X)).sum())} (cell type, compound, gene) values missing "
            "or infinite; fill or drop them first."
        )
    return adata


def read_de_table(path: str | Path, **kwargs) -> AnnData:
    """Read a DE table from CSV, TSV or Parquet and convert it with :func:`de_to_anndata`.

    Parameters
    ----------
    path
        ``.csv`` / ``.csv.gz``, ``.tsv`` / ``.txt`` (tab-separated) or ``.parquet`` file.
    **kwargs
        Passed to :func:`de_to_anndata` (``cell_type_key``, ``compound_key``, ``gene_key``, ``value_key``,
        ``meta_keys``).

    Returns
    -------
    AnnData, (cell type, compound) pairs x genes.

    Examples
    --------
    >>> adata = read_de_table("de_train.parquet")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No DE table at {path}.")
    name = path.name.lower()
    if name.endswith(".parquet"):
        table = pd.read_parquet(path)
    elif name.endswith((".tsv", ".tsv.gz", ".txt", ".txt.gz")):
        table = pd.read_csv(path, sep="\t")
    else:
        table = pd.read_csv(path)
    return de_to_anndata(table, **kwargs)


def _pair_index(cell_types: pd.Series, compounds: pd.Series) -> pd.Index:
    return pd.Index(cell_types.astype(str) + "|" + compounds.astype(str))


def _categorical_obs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(
        lambda col: col if pd.api.types.is_numeric_dtype(col) and col.dtype != bool else pd.Categorical(col.astype(str))
    )


def _from_wide(table: pd.DataFrame, cell_key: str, compound_key: str, meta_keys: list[str]) -> AnnData:
    keys = [cell_key, compound_key]
    numeric = [
        c
        for c in table.columns
        if c not in keys and c not in meta_keys and pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool
    ]
    meta = [c for c in table.columns if c not in numeric]
    if not numeric:
        raise ValueError(
            "The wide DE table has no numeric gene column. For a long table (one row per gene) name its gene "
            "column with `gene_key=`."
        )
    index = _pair_index(table[cell_key], table[compound_key])
    if index.duplicated().any():
        raise ValueError(
            f"Duplicated (cell type, compound) rows in the DE table: {preview(index[index.duplicated()])}."
        )
    obs = _categorical_obs(table[meta].set_axis(index))
    X = table[numeric].to_numpy(dtype=np.float32)
    return AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(numeric, dtype=str).astype(str)))


def _long_values(table: pd.DataFrame, value_key: str | None) -> pd.Series:
    if value_key is not None:
        if value_key not in table.columns:
            raise KeyError(f"Column {value_key!r} not found in the DE table (columns: {preview(table.columns)}).")
        return table[value_key].astype(np.float64)
    if {"logFC", "P.Value"} <= set(table.columns):
        p = table["P.Value"].astype(np.float64).clip(lower=np.finfo(np.float64).tiny)
        return np.sign(table["logFC"].astype(np.float64)) * -np.log10(p)
    raise ValueError(
        "Name the column with the values of the long DE table with `value_key=` (or provide limma's `logFC` and "
        "`P.Value` columns to get the signed -log10 p-value)."
    )


def _from_long(
    table: pd.DataFrame, cell_key: str, compound_key: str, gene_key: str, value_key: str | None, meta_keys: list[str]
) -> AnnData:
    frame = table.assign(_pair=_pair_index(table[cell_key], table[compound_key]), _value=_long_values(table, value_key))
    if frame.duplicated(["_pair", gene_key]).any():
        raise ValueError("The long DE table has several rows for the same (cell type, compound, gene).")
    wide = frame.pivot(index="_pair", columns=gene_key, values="_value")
    obs = frame.drop_duplicates("_pair").set_index("_pair")[[cell_key, compound_key, *meta_keys]].loc[wide.index]
    obs.index.name = None
    var = pd.DataFrame(index=wide.columns.astype(str))
    return AnnData(wide.to_numpy(dtype=np.float32), obs=_categorical_obs(obs), var=var)
