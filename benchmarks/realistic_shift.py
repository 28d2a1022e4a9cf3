"""Bulk-to-single-cell transfer under realistic shifts: every method of ``predict_response`` on three kinds of tumour.

For each mode, drug and seed, a semi-synthetic tumour of :func:`sctl.datasets.realistic_tumor` (500 cells, a
droplet-like platform: gene-wise platform offsets, log-normal library sizes, expression-dependent dropout, an
800-gene panel of the most variable genes):

* ``within_line``: ONE parental line with sensitive and resistant sub-populations along a real resistance program,
  beside response-independent programs (the shape of published drug-response single-cell sets);
* ``held_out_tissue``: 8 lines of one tissue, every line of which is held out of the reference: a tissue the
  reference never saw;
* ``between_lines``: 16 lines, half sensitive, half resistant (the task of ``sctl.datasets.tumor``, kept for
  comparison).

Every method is trained through :func:`sctl.tl.predict_response` with its defaults on the GDSC lines minus the
tumour's ``held_out_lines`` (all 2,000 genes; the 800 shared ones are used) and scored by AUROC, AP and the Brier
score (mean squared error of the probability) against the simulated truth. ``atsdp_paper`` and
``pathway_transfer_paper`` are the two transfer models with ``preset="paper"`` (and the paper's input:
``standardize_rows=False``; AUC labels for PathwayTransfer), on the same tumours; ``ensemble`` is the default of
``predict_response`` (mean probability of the signature score, the random forest and ATSDPNet, trained again).
Prints AUROC as mean +- std over seeds (of the mean over drugs) per mode and method, the mean over modes, then
AUROC by mode and drug. Deep models train at most ``--epochs`` epochs (default 30) with early stopping on held-out
lines.

    python benchmarks/realistic_shift.py [--modes within_line,held_out_tissue,between_lines]
        [--drugs Dabrafenib,...] [--methods ...] [--seeds 0-4] [--epochs 30] [--out results.csv]
        [--predictions cells.csv] [--quick]
    python benchmarks/realistic_shift.py --summary results1.csv [results2.csv ...]

``--quick``: Dabrafenib, seed 0, the baselines and the default only, 300 cells.
"""

import argparse
import sys
import time

import numpy as np
import pandas as pd
from _common import quiet_single_thread, scored_report
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from transfer_baselines import PAPER_VARIANTS

import sctl

MODES = {
    "within_line": {},
    "held_out_tissue": {"n_lines": 8},
    "between_lines": {"n_lines": 16},
}
DRUGS = "Dabrafenib,Trametinib,Docetaxel,Afatinib"
METHODS = "ensemble,signature,rf,logreg,pathway_transfer,pathway_transfer_paper,atsdp,atsdp_paper"
#: rows of the table: a method of ``predict_response`` and the arguments that make it (defaults otherwise)
VARIANTS = PAPER_VARIANTS
DEEP = ("pathway_transfer", "atsdp")
QUICK = {"drugs": "Dabrafenib", "seeds": "0", "methods": "ensemble,signature,rf,logreg", "n_cells": 300}


def run_one(
    bulk, mode: str, drug: str, seed: int, methods: list[str], n_cells: int, epochs: int
) -> tuple[list[dict], pd.DataFrame]:
    """Rows of AUROC / AP / Brier score for every method on one tumour, and every cell's probabilities."""
    cells = sctl.datasets.realistic_tumor(drug, mode=mode, n_cells=n_cells, seed=seed, **MODES[mode])
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    truth = (cells.obs["response"] == "sensitive").to_numpy()
    rows, probabilities = [], pd.DataFrame({"truth": truth.astype(int)}, index=cells.obs_names)
    for name in methods:
        method, kwargs = VARIANTS.get(name, (name, {}))
        if method in DEEP:
            kwargs = {**kwargs, "train_kwargs": {"max_epochs": epochs, "enable_progress_bar": False}}
        start = time.perf_counter()
        sctl.tl.predict_response(cells, reference=reference, drug=drug, method=method, seed=seed, **kwargs)
        seconds = time.perf_counter() - start
        proba = cells.obs["sctl_response_proba"].to_numpy()
        scored = ~np.isnan(proba)  # cells with too few detected genes are left unscored
        scores = scored_report(truth, proba)
        rows.append(
            {"mode": mode, "drug": drug, "seed": seed, "method": name, "seconds": seconds,
             "auroc": scores["auroc"], "ap": scores["ap"],
             "brier": float(np.mean((proba[scored] - truth[scored]) ** 2)), "n_unscored": int((~scored).sum())}
        )  # fmt: skip
        probabilities[name] = proba
        print(f"{mode:16s} {drug:14s} seed {seed} {name:17s} AUROC {scores['auroc']:.3f} ({seconds:.0f} s)",
              file=sys.stderr, flush=True)  # fmt: skip
    return rows, probabilities.assign(mode=mode, drug=drug, seed=seed)


def summarize(results: pd.DataFrame) -> None:
    """Print mean +- std over seeds by mode and method, then the overall table."""
    # a seed's figure is its mean over drugs, so the spread is over seeds
    per_seed = results.groupby(["mode", "method", "seed"])["auroc"].mean()
    by_mode = per_seed.groupby(["mode", "method"]).agg(["mean", "std"]).round(3)
    table = by_mode.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f}", axis=1).unstack("mode")
    overall_seed = results.groupby(["method", "seed"])["auroc"].mean()
    table["mean over modes"] = overall_seed.groupby("method").agg(lambda s: f"{s.mean():.3f} ± {s.std():.3f}")
    table["Brier"] = results.groupby("method")["brier"].mean().round(3)
    table["seconds"] = results.groupby("method")["seconds"].mean().round(1)
    table = table.loc[overall_seed.groupby("method").mean().sort_values(ascending=False).index]
    n = results.groupby("mode")[["drug", "seed"]].nunique()
    print(f"AUROC, mean ± std over seeds of the mean over drugs ({n.to_dict('index')}):")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string())
    per_drug = results.groupby(["mode", "drug", "method"])["auroc"].mean().unstack("method").round(3)
    print("\nAUROC by mode and drug (mean over seeds):")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 100):
        print(per_drug.to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--drugs", default=DRUGS)
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--n-cells", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="also write the per-run rows to this CSV")
    parser.add_argument("--predictions", default=None, help="also write every cell's probabilities to this CSV")
    parser.add_argument("--summary", nargs="+", default=None, help="summarise CSVs written by --out")
    parser.add_argument("--quick", action="store_true", help=f"reduced setting: {QUICK}")
    if "--quick" in sys.argv:
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    if args.summary:
        summarize(pd.concat([pd.read_csv(path) for path in args.summary], ignore_index=True))
        return
    quiet_single_thread()
    bulk = sctl.datasets.gdsc()
    rows, probabilities = [], []
    for mode in args.modes.split(","):
        for drug in args.drugs.split(","):
            for seed in seeds_arg(args.seeds):
                one, proba = run_one(bulk, mode, drug, seed, args.methods.split(","), args.n_cells, args.epochs)
                rows += one
                probabilities.append(proba)
                if args.out:  # written as it goes: a long run keeps what it has done
                    pd.DataFrame(rows).to_csv(args.out, index=False)
                if args.predictions:
                    pd.concat(probabilities).to_csv(args.predictions)
    summarize(pd.DataFrame(rows))


if __name__ == "__main__":
    main()
