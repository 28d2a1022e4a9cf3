"""MultiDrugTransfer on the drug-specificity tumours: one model of every drug beside the raw-label signature score.

The tumours, pairs and yardstick are those of ``drug_specificity.py``: ONE parental line scored for a PAIR of
drugs (:func:`sctl.datasets.realistic_tumor` with ``mode="drug_pair"``), whose sub-populations respond to the two
drugs in opposite directions (``specific``) or resist both alike (``general``); the score of a pair is
:func:`sctl.metrics.drug_specificity` (mean AUROC over the pair; 0.5 = blind to the drug).

For each tumour, on the shipped reference (:func:`sctl.datasets.gdsc`, 40 drugs) minus the tumour's
``held_out_lines``, and for each label rule (``ln_ic50``, ``auc``):

* ``multidrug``: ONE :class:`sctl.models.MultiDrugTransfer` trained on every drug of the reference and the
  tumour's (unlabelled) cells; each drug's probability ``sigmoid(a (m_d - g - s_d))``. Beside it, for insight,
  its two parts alone: ``multidrug (s_d only)`` (the drug-specific head) and ``multidrug (g only)`` (the
  general head, drug-blind by construction);
* ``signature (raw)``: :func:`sctl.tl.predict_response` with ``method="signature"``, once per drug, labels from
  the raw response: the drug-blind-prone baseline of ``drug_specificity.py``.

Prints per (panel, rule) the AUROC of each drug of a pair and the drug specificity, mean ± std over seeds, then the
mean fit time of each method (one MultiDrugTransfer fit serves every drug; the signature is fitted per drug).

    python benchmarks/multidrug.py [--pairs A:B,...] [--kinds specific,general] [--rules ln_ic50,auc]
        [--seeds 0-2] [--n-cells 500] [--methods multidrug,signature] [--model-kwargs '{"mmd_weight": 0.1}']
        [--train-kwargs '{...}'] [--out rows.csv] [--quick]

``--quick``: one pair, seed 0, the ``ln_ic50`` rule, 300 cells.
"""

import argparse
import contextlib
import io
import json
import sys
import time

import pandas as pd
from _common import quiet_single_thread
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from drug_specificity import PAIRS, _auroc, summarize
from drug_specificity import predict as predict_signature

import sctl

QUICK = {"pairs": "Trametinib:Olaparib", "seeds": "0", "rules": "ln_ic50", "n_cells": 300}


def row(pair, kind, seed, rule, method, seconds, truth, scores) -> dict:
    """One result row in the layout of ``drug_specificity.py`` (read by its ``summarize``)."""
    out = {"pair": "/".join(pair), "kind": kind, "seed": seed, "panel": "shipped", "rule": rule, "method": method,
           "seconds": seconds, **{f"auroc_{i}": _auroc(truth[d], scores[d]) for i, d in enumerate(pair)},
           "specificity": sctl.metrics.drug_specificity(truth[list(pair)], scores[list(pair)])}  # fmt: skip
    print(f"{out['pair']:24s} {kind:8s} seed {seed} {rule:8s} {method:24s} AUROC {out['auroc_0']:.3f} / "
          f"{out['auroc_1']:.3f}  specificity {out['specificity']:.3f} ({seconds:.1f} s)",
          file=sys.stderr, flush=True)  # fmt: skip
    return out


def run_one(bulk, pair, kind: str, seed: int, args) -> list[dict]:
    cells = sctl.datasets.realistic_tumor(list(pair), mode="drug_pair", subpopulations=kind, n_cells=args.n_cells,
                                          seed=seed)  # fmt: skip
    truth = cells.obsm["response"]
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    rows = []
    for rule in args.rules.split(","):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # scvi-tools prints when early stopping ends training
            model = sctl.models.MultiDrugTransfer.from_reference(
                reference, cells, key=rule, seed=seed, **args.model_kwargs,
                train_kwargs={"enable_progress_bar": False, "seed": seed, **args.train_kwargs},
            )  # fmt: skip
        seconds = time.perf_counter() - start
        proba = model.predict_all(cells)
        rows.append(row(pair, kind, seed, rule, "multidrug", seconds, truth, proba))
        specific = -model.get_specific_response(cells)
        rows.append(row(pair, kind, seed, rule, "multidrug (s_d only)", seconds, truth, specific))
        general = pd.DataFrame({d: -model.get_general_sensitivity(cells) for d in pair}, index=cells.obs_names)
        rows.append(row(pair, kind, seed, rule, "multidrug (g only)", seconds, truth, general))
        if "signature" not in args.methods:
            continue
        start = time.perf_counter()
        signature = pd.DataFrame(
            {d: predict_signature(cells, reference, d, "signature", rule, seed, 0) for d in pair}, index=cells.obs_names
        )
        rows.append(row(pair, kind, seed, rule, "signature (raw)", time.perf_counter() - start, truth, signature))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=PAIRS, help="comma-separated pairs drug1:drug2")
    parser.add_argument("--kinds", default="specific,general")
    parser.add_argument("--rules", default="ln_ic50,auc")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--n-cells", type=int, default=500)
    parser.add_argument("--methods", default="multidrug,signature", help="multidrug (always) and signature")
    parser.add_argument("--model-kwargs", type=json.loads, default={}, help="MultiDrugTransfer arguments (JSON)")
    parser.add_argument("--train-kwargs", type=json.loads, default={}, help="MultiDrugTransfer.train arguments (JSON)")
    parser.add_argument("--out", default=None, help="also write the per-run rows to this CSV")
    parser.add_argument("--quick", action="store_true", help=f"reduced setting: {QUICK}")
    if "--quick" in sys.argv:
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    quiet_single_thread()
    bulk = sctl.datasets.gdsc()
    rows = []
    for pair in (tuple(p.split(":")) for p in args.pairs.split(",")):
        for kind in args.kinds.split(","):
            for seed in seeds_arg(args.seeds):
                rows += run_one(bulk, pair, kind, seed, args)
                if args.out:  # written as it goes: a long run keeps what it has done
                    pd.DataFrame(rows).to_csv(args.out, index=False)
    results = pd.DataFrame(rows)
    summarize(results)
    fits = results[results["method"].isin(["multidrug", "signature (raw)"])]
    seconds = fits.groupby(["rule", "method"])["seconds"].agg(["mean", "max"]).round(1)
    print(f"\nFit time (s; multidrug: one model of all {bulk.obsm['ln_ic50'].shape[1]} drugs, {args.n_cells} cells; "
          "signature: the pair's two drugs, predict_response included):")  # fmt: skip
    print(seconds.to_string())
    if args.model_kwargs or args.train_kwargs:
        print(f"model_kwargs {args.model_kwargs}, train_kwargs {args.train_kwargs}")


if __name__ == "__main__":
    main()
