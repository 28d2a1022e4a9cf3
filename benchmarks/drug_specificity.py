"""Drug specificity: do the methods of ``predict_response`` tell two drugs apart on the same cells?

Each tumour is ONE parental line scored for a PAIR of drugs (:func:`sctl.datasets.realistic_tumor` with
``mode="drug_pair"``: a droplet-like platform and an 800-gene panel), in one of two kinds:

* ``specific``: two sub-populations that respond in OPPOSITE directions to the two drugs (the cells sensitive to
  one are resistant to the other), along programs drawn from the drug-specific part of GDSC response (each
  drug's z-scored ln IC50 minus the line's mean z over drugs), and apart by ``--general-shift`` (0.5) x the
  effect along the general-sensitivity program (the first drug's sensitive cells generally more sensitive). A
  drug-blind score, however good on one drug, averages 0.5 here;
* ``general``: a sub-population resistant to both drugs beside one sensitive to both, along a
  general-sensitivity program: a drug-blind score is enough.

For each tumour, every method is trained through :func:`sctl.tl.predict_response` once per drug, on a reference
panel minus the tumour's ``held_out_lines``:

* panels: ``shipped`` (:func:`sctl.datasets.gdsc`: 2,000 genes, 40 GDSC2 drugs) and ``wide`` (the real-data kit:
  every gene of ``gdsc_expression_z.csv.gz``, every GDSC2 drug tested on >= 100 lines; read from
  ``$SCTL_SHARED_DATA`` or ``../shared/data`` beside the repository). The cells share at most their 800 genes
  with either; the panels differ in lines and in the drugs over which general sensitivity is averaged;
* label rules: the response table the reference lines are labelled from (bottom / top 30 %): ``ln_ic50`` or
  ``auc`` of GDSC2 (and ``gdsc1_ln_ic50``, GDSC1's ln IC50 of the same lines, on request);
* label variants: ``raw`` (the table itself) and ``specific`` (its drug-specific part,
  :func:`sctl.pp.drug_specific_response`, ``key=<rule>_specific``); ``general`` (drug-blind general sensitivity)
  on request.

Prints, per (panel, label rule), the AUROC of each drug and the drug-specificity score
(:func:`sctl.metrics.drug_specificity`, the mean AUROC over the pair; 0.5 = blind to the drug) as mean ± std over
seeds, by method variant (rows) and pair / kind (columns). The pairs are printed first with the correlation of
their drugs' specific responses (why they were chosen).

    python benchmarks/drug_specificity.py [--pairs Dabrafenib:Afatinib,...] [--kinds specific,general]
        [--panels shipped,wide] [--rules ln_ic50,auc] [--variants raw,specific] [--methods signature,rf,...]
        [--seeds 0-4] [--n-cells 500] [--general-shift 0.5] [--epochs 30] [--out results.csv] [--quick]
    python benchmarks/drug_specificity.py --summary results1.csv [results2.csv ...]

``--quick``: one pair, seed 0, the baselines only, the shipped panel, the ``ln_ic50`` rule, 300 cells.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import quiet_single_thread
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from anndata import AnnData
from transfer_baselines import PAPER_VARIANTS

import sctl
from sctl.pp._specific import split_response

#: pairs whose drug-specific responses are anti-correlated across the GDSC lines (printed at the start)
PAIRS = "Trametinib:Olaparib,Venetoclax:Dactolisib,Dabrafenib:Afatinib,Dabrafenib:Docetaxel"
METHODS = (
    "decomposed_ridge,decomposed_ridge_w1,signature,rf,logreg,multidrug,ensemble,"
    "atsdp,atsdp_paper,pathway_transfer,pathway_transfer_paper"
)
DEEP = ("pathway_transfer", "atsdp", "ensemble", "multidrug")
#: paper presets of the transfer models, with the paper's input; the label rule stays the row's (both are measured)
VARIANT_METHODS = {
    name: (method, {k: v for k, v in extra.items() if k != "key"}) for name, (method, extra) in PAPER_VARIANTS.items()
}
#: the default with its specific part unweighted: one ridge regression of each drug's z-scored response
VARIANT_METHODS["decomposed_ridge_w1"] = ("decomposed_ridge", {"model_kwargs": {"specific_weight": 1.0}})
#: label variant -> suffix of the response key written by ``sctl.pp.drug_specific_response``
VARIANTS = {"raw": "", "specific": "_specific", "general": "_general"}
#: fewest tested lines for a drug of the wide panel (a z-score over fewer lines is noise)
MIN_LINES = 100
QUICK = {
    "pairs": "Trametinib:Olaparib",
    "seeds": "0",
    "methods": "signature,rf,logreg",
    "panels": "shipped",
    "rules": "ln_ic50",
    "n_cells": 300,
}


def _auroc(truth: pd.Series, score: pd.Series) -> float:
    """AUROC over the cells with a label and a score (predict_response leaves empty cells unscored)."""
    known = truth.notna() & score.notna()
    return sctl.metrics.auroc(truth[known], score[known])


def shared_data() -> Path:
    """The real-data kit beside the repository (``../shared/data``), or ``$SCTL_SHARED_DATA``."""
    path = Path(os.environ.get("SCTL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (path / "gdsc" / "gdsc_expression_z.csv.gz").exists():
        sys.exit(f"The real-data kit is not at {path}; set SCTL_SHARED_DATA (or run with --panels shipped).")
    return path


def wide_panel() -> AnnData:
    """Every gene of the kit's expression, every GDSC2 drug tested on at least ``MIN_LINES`` lines."""
    gdsc = shared_data() / "gdsc"
    bulk = sctl.datasets.read_gdsc(
        gdsc / "gdsc_expression_z.csv.gz",
        ln_ic50=gdsc / "gdsc2_ln_ic50.csv.gz",
        auc=gdsc / "gdsc2_auc.csv.gz",
        cell_lines=gdsc / "cell_lines.csv.gz",
    )
    for key in ("ln_ic50", "auc"):
        table = bulk.obsm[key]
        bulk.obsm[key] = table.loc[:, table.notna().sum() >= MIN_LINES]
    return bulk[bulk.obsm["ln_ic50"].notna().any(axis=1).to_numpy()].copy()


def add_gdsc1(bulk) -> None:
    """GDSC1's ln IC50 of the same lines as ``obsm["gdsc1_ln_ic50"]`` (drugs tested on >= ``MIN_LINES`` lines)."""
    table = sctl.datasets.read_gdsc_response(shared_data() / "gdsc" / "gdsc1_ln_ic50.csv.gz")
    bulk.obsm["gdsc1_ln_ic50"] = sctl.datasets.add_response(bulk, table, "gdsc1_ln_ic50").obsm["gdsc1_ln_ic50"]
    table = bulk.obsm["gdsc1_ln_ic50"]
    bulk.obsm["gdsc1_ln_ic50"] = table.loc[:, table.notna().sum() >= MIN_LINES]


def describe_pairs(bulk, pairs: list[tuple[str, str]]) -> None:
    """Why the pairs: the correlation of their drugs' specific (and raw) responses across the shipped lines."""
    table = bulk.obsm["ln_ic50"]
    specific, _ = split_response(table)
    raw = (table - table.mean()) / table.std()
    off_diagonal = ~np.eye(table.shape[1], dtype=bool)
    raw_mean, specific_mean = (frame.corr().to_numpy()[off_diagonal].mean() for frame in (raw, specific))
    print(
        f"Raw z-scored ln IC50 of the {table.shape[1]} shipped drugs correlate {raw_mean:.2f} on average, pair by "
        f"pair (the general-sensitivity axis); their specific parts {specific_mean:.2f}."
    )
    print("Pairs (correlation across lines of the two drugs' responses; < 0 = opposite specific sensitivities):")
    for first, second in pairs:
        print(
            f"  {first} / {second}: specific r = {specific[first].corr(specific[second]):+.2f}, raw r = "
            f"{raw[first].corr(raw[second]):+.2f}"
        )
    print()


def predict(cells, reference, drug: str, name: str, key: str, seed: int, epochs: int) -> np.ndarray:
    method, kwargs = VARIANT_METHODS.get(name, (name, {}))
    kwargs = dict(kwargs)
    if method in DEEP:
        kwargs["train_kwargs"] = {"max_epochs": epochs, "enable_progress_bar": False}
    sctl.tl.predict_response(cells, reference=reference, drug=drug, method=method, key=key, seed=seed, **kwargs)
    return cells.obs["sctl_response_proba"].to_numpy()


def run_one(panels: dict, pair: tuple[str, str], kind: str, seed: int, args) -> list[dict]:
    """Rows of per-drug AUROC and drug specificity for every panel, rule, variant and method on one tumour."""
    shift = {"general_shift": args.general_shift} if kind == "specific" else {}
    cells = sctl.datasets.realistic_tumor(
        list(pair), mode="drug_pair", subpopulations=kind, n_cells=args.n_cells, seed=seed, **shift
    )
    truth = cells.obsm["response"]
    rows = []
    for panel, bulk in panels.items():
        reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
        for rule in args.rules.split(","):
            sctl.pp.drug_specific_response(reference, key=rule)
            for variant in args.variants.split(","):
                for method in args.methods.split(","):
                    start = time.perf_counter()
                    key = rule + VARIANTS[variant]
                    scores = pd.DataFrame(
                        {drug: predict(cells, reference, drug, method, key, seed, args.epochs) for drug in pair},
                        index=cells.obs_names,
                    )
                    row = {
                        "pair": "/".join(pair),
                        "kind": kind,
                        "seed": seed,
                        "panel": panel,
                        "rule": rule,
                        "method": f"{method} ({variant})",
                        "seconds": time.perf_counter() - start,
                        **{f"auroc_{i}": _auroc(truth[drug], scores[drug]) for i, drug in enumerate(pair)},
                        "specificity": sctl.metrics.drug_specificity(truth, scores),
                    }
                    rows.append(row)
                    print(
                        f"{row['pair']:24s} {kind:8s} seed {seed} {panel:7s} {rule:13s} {row['method']:28s} "
                        f"AUROC {row['auroc_0']:.3f} / {row['auroc_1']:.3f}  specificity {row['specificity']:.3f} "
                        f"({row['seconds']:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    return rows


def _mean_std(values: pd.Series) -> str:
    return f"{values.mean():.2f} ± {values.std():.2f}" if len(values) > 1 else f"{values.mean():.2f}"


def summarize(results: pd.DataFrame) -> None:
    """One table per (panel, rule): method rows; per pair and kind, AUROC of each drug and drug specificity."""
    n_seeds = results["seed"].nunique()
    print(
        f"AUROC of drug 1 | drug 2 | drug specificity (mean AUROC of the pair; 0.5 = blind to the drug), "
        f"mean ± std over {n_seeds} seed(s). specific = opposite sub-populations, general = resistant to both."
    )
    for (panel, rule), block in results.groupby(["panel", "rule"], sort=False):
        cells = block.groupby(["method", "pair", "kind"], sort=False).agg(
            {"auroc_0": _mean_std, "auroc_1": _mean_std, "specificity": _mean_std}
        )
        table = cells.apply(lambda r: f"{r['auroc_0']} | {r['auroc_1']} | {r['specificity']}", axis=1)
        table = table.unstack(["pair", "kind"])
        table.columns = [f"{pair} {kind}" for pair, kind in table.columns]
        mean = block.groupby(["method", "kind"], sort=False)["specificity"].mean().unstack("kind").round(3)
        table = table.join(mean.add_prefix("mean specificity, "))
        print(f"\npanel {panel}, label rule {rule}:")
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 40):
            print(table.to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=PAIRS, help="comma-separated pairs drug1:drug2")
    parser.add_argument("--kinds", default="specific,general")
    parser.add_argument("--panels", default="shipped,wide")
    parser.add_argument("--rules", default="ln_ic50,auc", help="ln_ic50, auc, gdsc1_ln_ic50")
    parser.add_argument("--variants", default="raw,specific", help=f"label variants among {list(VARIANTS)}")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--n-cells", type=int, default=500)
    parser.add_argument(
        "--general-shift", type=float, default=0.5, help="specific kind: shift along general sensitivity (x effect)"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="also write the per-run rows to this CSV")
    parser.add_argument("--summary", nargs="+", default=None, help="summarise CSVs written by --out")
    parser.add_argument("--quick", action="store_true", help=f"reduced setting: {QUICK}")
    if "--quick" in sys.argv:
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    if args.summary:
        summarize(pd.concat([pd.read_csv(path) for path in args.summary], ignore_index=True))
        return
    quiet_single_thread()
    pairs = [tuple(pair.split(":")) for pair in args.pairs.split(",")]
    shipped = sctl.datasets.gdsc()
    describe_pairs(shipped, pairs)
    loaders = {"shipped": lambda: shipped, "wide": wide_panel}
    panels = {name: loaders[name]() for name in args.panels.split(",")}
    if "gdsc1_ln_ic50" in args.rules.split(","):
        for bulk in panels.values():
            add_gdsc1(bulk)
    rows = []
    for pair in pairs:
        for kind in args.kinds.split(","):
            for seed in seeds_arg(args.seeds):
                rows += run_one(panels, pair, kind, seed, args)
                if args.out:  # written as it goes: a long run keeps what it has done
                    pd.DataFrame(rows).to_csv(args.out, index=False)
    summarize(pd.DataFrame(rows))


if __name__ == "__main__":
    main()
