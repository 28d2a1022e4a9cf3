"""Transfer accuracy of the baselines on semi-synthetic tumours of held-out GDSC lines.

For each drug and seed: sample ``sctl.datasets.tumor`` (16 held-out lines), train each method on the other GDSC
lines through ``sctl.tl.predict_response`` and score the cells against their ground truth. Prints AUROC and AP as
mean +- std over seeds, and each method's AUROC as a ratio to the best baseline of that drug.

    python benchmarks/transfer_baselines.py [--drugs Dabrafenib,Trametinib] [--seeds 5] [--n-cells 2000] [--quick]

``--quick``: 2 drugs (Dabrafenib, Trametinib), 2 seeds, 500 cells (options given explicitly still win).
"""

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _common import scored_report

import sctl

BASELINES = ("logreg", "signature", "rf", "gb", "svm", "ridge")
#: rows that run a transfer model as its paper describes it (``preset="paper"``, the paper's labels and input)
PAPER_VARIANTS = {
    "pathway_transfer_paper": (
        "pathway_transfer",
        {"key": "auc", "standardize_rows": False, "model_kwargs": {"preset": "paper"}},
    ),
    "atsdp_paper": ("atsdp", {"standardize_rows": False, "model_kwargs": {"preset": "paper"}}),
}
QUICK = {"drugs": "Dabrafenib,Trametinib", "seeds": 2, "n_cells": 500}


def run(
    drugs: list[str],
    seeds: int,
    n_cells: int,
    methods: list[str],
    landmark_only: bool = False,
    train_kwargs: dict | None = None,
) -> pd.DataFrame:
    """One row per drug, seed and method: AUROC, AP, ... against the tumour's ground truth, and seconds."""
    bulk = sctl.datasets.gdsc()
    if landmark_only:
        bulk = bulk[:, bulk.var["landmark"].to_numpy()].copy()
    rows = []
    for drug in drugs:
        for seed in range(seeds):
            cells = sctl.datasets.tumor(drug=drug, n_cells=n_cells, seed=seed)
            reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])].copy()
            for name in methods:
                method, extra = PAPER_VARIANTS.get(name, (name, {}))
                start = time.perf_counter()
                if method not in BASELINES:
                    extra = {**extra, "train_kwargs": train_kwargs}
                sctl.tl.predict_response(cells, reference=reference, drug=drug, method=method, seed=seed, **extra)
                seconds = time.perf_counter() - start
                scores = scored_report(cells.obs["response"], cells.obs["sctl_response_proba"])
                rows.append({"drug": drug, "seed": seed, "method": name, "seconds": seconds, **scores})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    table = results.groupby(["drug", "method"]).agg(
        auroc_mean=("auroc", "mean"),
        auroc_std=("auroc", "std"),
        ap_mean=("ap", "mean"),
        ap_std=("ap", "std"),
        seconds=("seconds", "mean"),
    )
    best = table.groupby(level="drug")["auroc_mean"].transform("max")
    table["auroc_over_best"] = table["auroc_mean"] / best
    return table.round(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drugs", default="Dabrafenib,Trametinib,Nutlin-3a (-),Afatinib,Docetaxel")
    parser.add_argument("--methods", default="logreg,signature,rf")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-cells", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help=f"reduced setting: {QUICK}")
    if "--quick" in sys.argv:
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    results = run(args.drugs.split(","), args.seeds, args.n_cells, args.methods.split(","))
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.max_columns", 20):
        print(summarize(results))
    print(f"\nover all drugs (mean AUROC): {results.groupby('method')['auroc'].mean().round(3).to_dict()}")
    print(f"spread over seeds (mean std of AUROC): {results.groupby(['drug', 'method'])['auroc'].std().mean():.3f}")
    print(f"seeds {args.seeds}, cells {args.n_cells}, numpy {np.__version__}, sctl {sctl.__version__}")


if __name__ == "__main__":
    main()
