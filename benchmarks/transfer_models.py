"""Transfer AUROC of PathwayTransfer and ATSDPNet beside the baselines, on the same tumours and the same input.

For each drug and seed (5 x 5 by default): a semi-synthetic tumour of 16 held-out GDSC lines
(:func:`sctl.datasets.tumor`), every method trained on the other GDSC lines restricted to the L1000 landmark genes
(so that the deep models train in seconds on a CPU) and scored against the tumour's ground truth. Prints AUROC and
AP as mean +- std over seeds per drug, each method's AUROC over the best method of that drug, and the mean over
drugs. The deep models train with their defaults (early stopping on held-out lines) for at most ``--epochs``;
``pathway_transfer_paper`` and ``atsdp_paper`` are the same models with ``preset="paper"`` (and the paper's labels
and input: ``key="auc"`` for PathwayTransfer, ``standardize_rows=False``), on the same tumours.

    python benchmarks/transfer_models.py [--drugs Dabrafenib,Trametinib] [--seeds 5] [--n-cells 1000]
"""

import argparse
import logging
import warnings

import pandas as pd
import torch
from transfer_baselines import run, summarize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drugs", default="Dabrafenib,Trametinib,Nutlin-3a (-),Afatinib,Docetaxel")
    parser.add_argument(
        "--methods", default="pathway_transfer,pathway_transfer_paper,atsdp,atsdp_paper,logreg,signature,rf"
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-cells", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    results = run(
        args.drugs.split(","),
        args.seeds,
        args.n_cells,
        args.methods.split(","),
        landmark_only=True,
        train_kwargs={"max_epochs": args.epochs, "enable_progress_bar": False},
    )
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.max_columns", 20):
        print(summarize(results))
    overall = results.groupby("method").agg(auroc_mean=("auroc", "mean"), seconds=("seconds", "mean"))
    per_drug_best = summarize(results).groupby(level="method")["auroc_over_best"].mean()
    print("\nover all drugs and seeds:")
    print(overall.assign(mean_auroc_over_best=per_drug_best).round(3).sort_values("auroc_mean", ascending=False))


if __name__ == "__main__":
    main()
