"""CSG²A fine-tuned on real GDSC ln IC50 beside MeanEffects and a random forest, under four split schemes.

Usage:
    python benchmarks/csg2a_ic50.py [seeds] [pretrain_epochs] [finetune_epochs] [n_lines] [out.csv]
    python benchmarks/csg2a_ic50.py --summary out1.csv [out2.csv ...]

``seeds``: ``0-4`` (default) or ``0,2``; ``n_lines``: ``all`` (default, the 919 GDSC lines) or a number of
random lines. Runs of different seeds can go to separate files and be summarised together.

Data: ``sctl.datasets.gdsc()``, every cell line x every GDSC drug with a SMILES (40), on the 485 landmark genes
shared with the L1000 plate. For each seed, CSG²A is pretrained on the L1000 plate (``sctl.datasets.lincs()`` after
``sctl.pp.match_controls``; the treated profiles of the 14 plate drugs with a SMILES; STRING prior of
``sctl.datasets.ppi()``; model seed = seed), then, for each scheme (``mixed``, ``cell_blind``, ``drug_blind``,
``disjoint`` of ``sctl.pp.split``, 5 folds drawn with that seed), fold 0 is held out and a copy of the pretrained
network is fine-tuned on the training pairs (frozen network, new head, the paper's recipe). ``CSG2A`` has the
default settings (attention restricted to the PPI edges, ``attention="ppi"``); ``CSG2A[full]`` scores every gene
pair as the paper does. A seed is therefore a
new split and a new model: mean ± std over seeds covers both.

Baselines, fitted on the same training pairs:

* ``MeanEffects``: line effect + drug effect (an unseen line or drug gets the global mean plus the known effect);
* ``RF[expr+fp]``: one global ``RandomForestRegressor`` (100 trees, ``max_features="sqrt"``,
  ``min_samples_leaf=3``, seed = seed) on [line expression (landmark genes), drug RDKit descriptors + 1,024-bit
  Morgan fingerprint], the same drug features CSG²A uses; global for every scheme (a per-drug forest cannot
  predict unseen drugs).

Metrics on the test pairs: ``sctl.metrics.regression_report`` with drugs as groups: RMSE, pooled Pearson and the
unweighted mean of per-drug Pearson (NaN under ``drug_blind`` / ``disjoint`` for a drug with fewer than 3 test
lines). Prints one row per (seed, scheme, model) as it completes, then mean ± std over seeds. One torch thread.
"""

import copy
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from sklearn.ensemble import RandomForestRegressor

import sctl
from sctl.metrics import regression_report
from sctl.models import CSG2A
from sctl.models.baselines import MeanEffects
from sctl.models.csg2a._data import featurize

torch.set_num_threads(1)
warnings.filterwarnings("ignore")
N_FOLDS, SCHEMES = 5, ("mixed", "cell_blind", "drug_blind", "disjoint")
METRICS = ("rmse", "pearson", "per_drug_pearson")
pd.set_option("display.width", 200)


def summarise(table: pd.DataFrame) -> None:
    stats = table.groupby(["scheme", "model"], sort=False)[[*METRICS, "n_test", "seconds"]].agg(["mean", "std"])
    out = pd.DataFrame(index=stats.index)
    for metric in METRICS:
        mean, std = stats[(metric, "mean")], stats[(metric, "std")].fillna(0.0)
        out[metric] = ["n/a" if np.isnan(m) else f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, std, strict=True)]
    out["n_test"] = stats[("n_test", "mean")].round(0).astype(int)
    out["seconds"] = stats[("seconds", "mean")].round(0).astype(int)
    print(f"\nMean ± std over {table['seed'].nunique()} seed(s) (fold 0 of a {N_FOLDS}-fold split per seed):")
    print(out.to_string())


def run(seeds: list[int], pretrain_epochs: int, finetune_epochs: int, n_lines: str) -> pd.DataFrame:
    lincs, full = sctl.datasets.lincs(), sctl.datasets.gdsc()
    genes = full.var_names[full.var["landmark"].to_numpy()].intersection(lincs.var_names)
    sctl.pp.match_controls(lincs, control="DMSO")
    drug_table = full.uns["sctl_drugs"]
    plate_smiles = {
        name: s for name, s in zip(drug_table["lincs_name"], drug_table["smiles"], strict=True) if isinstance(name, str)
    }
    treated = lincs[lincs.obs["drug"].astype(str).isin(plate_smiles), genes].copy()
    CSG2A.setup_anndata(treated, drug_key="drug", smiles=plate_smiles)

    drugs = [d for d in full.obsm["ln_ic50"].columns if isinstance(drug_table["smiles"].get(d), str)]
    lines = (
        full.obs_names
        if n_lines == "all"
        else np.random.default_rng(0).choice(full.obs_names, int(n_lines), replace=False)
    )
    bulk = full[lines, genes].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][drugs]
    expression = np.asarray(bulk.X, dtype=np.float32)
    drug_features = featurize({d: drug_table.loc[d, "smiles"] for d in drugs}, 1024).numpy()
    n_pairs = int(bulk.obsm["ln_ic50"].notna().to_numpy().sum())
    print(f"GDSC: {bulk.n_obs} lines x {len(genes)} genes x {len(drugs)} drugs, {n_pairs} tested pairs", flush=True)

    def rf_features(pairs: pd.DataFrame) -> np.ndarray:
        rows = bulk.obs_names.get_indexer(pairs["cell_line"])
        cols = pd.Index(drugs).get_indexer(pairs["drug"])
        return np.hstack([expression[rows], drug_features[cols]])

    def scores(model: str, seed: int, scheme: str, test: pd.DataFrame, pred: np.ndarray, seconds: float) -> dict:
        report = regression_report(test["ln_ic50"].to_numpy(), pred, groups=test["drug"].astype(str).to_numpy())
        return {
            "seed": seed,
            "scheme": scheme,
            "model": model,
            "n_train": n_train,
            "n_test": int(report.loc["all", "n"]),
            "rmse": report.loc["all", "rmse"],
            "pearson": report.loc["all", "pearson"],
            "per_drug_pearson": report.loc["group_mean", "pearson"],
            "seconds": seconds,
        }

    results = []
    for seed in seeds:
        start = time.perf_counter()
        pretrained = {}
        for name, attention in (("CSG2A", "auto"), ("CSG2A[full]", "full")):
            pretrained[name] = CSG2A(treated, ppi=sctl.datasets.ppi(), attention=attention, seed=seed)
            pretrained[name].train(max_epochs=pretrain_epochs, lr=3e-3, batch_size=16, enable_progress_bar=False)
        print(
            f"seed {seed}: pretrained on {treated.n_obs} L1000 profiles x {len(genes)} genes "
            f"({pretrain_epochs} epochs, {time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        for scheme in SCHEMES:
            sctl.pp.split(bulk, scheme, n_folds=N_FOLDS, seed=seed)
            pairs = bulk.uns["sctl_split"]["pairs"]
            train, test = next(iter(sctl.pp.iter_folds(bulk)))
            train_pairs, test_pairs = pairs.iloc[train], pairs.iloc[test]
            n_train = len(train_pairs)
            rows = []

            t0 = time.perf_counter()
            pred = MeanEffects().fit(bulk, pairs=train_pairs).predict(test_pairs)
            rows.append(scores("MeanEffects", seed, scheme, test_pairs, pred, time.perf_counter() - t0))

            t0 = time.perf_counter()
            forest = RandomForestRegressor(n_estimators=100, max_features="sqrt", min_samples_leaf=3, random_state=seed)
            forest.fit(rf_features(train_pairs), train_pairs["ln_ic50"].to_numpy())
            pred = forest.predict(rf_features(test_pairs))
            rows.append(scores("RF[expr+fp]", seed, scheme, test_pairs, pred, time.perf_counter() - t0))

            for name, network in pretrained.items():
                t0 = time.perf_counter()
                model = copy.deepcopy(network)
                train_drugs = list(dict.fromkeys(train_pairs["drug"].astype(str)))
                model.finetune_ic50(
                    bulk,
                    drugs=train_drugs,
                    pairs=train_pairs,
                    max_epochs=finetune_epochs,
                    lr=1e-3,
                    enable_progress_bar=False,
                )
                table = model.predict_ic50(bulk, drugs)  # unseen (drug_blind, disjoint) drugs through their SMILES
                pred = table.to_numpy()[
                    bulk.obs_names.get_indexer(test_pairs["cell_line"]), table.columns.get_indexer(test_pairs["drug"])
                ]
                rows.append(scores(name, seed, scheme, test_pairs, pred, time.perf_counter() - t0))

            results.extend(rows)
            print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    return pd.DataFrame(results)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summary"]:
        summarise(pd.concat([pd.read_csv(path) for path in sys.argv[2:]], ignore_index=True))
        sys.exit(0)
    seeds = seeds_arg(sys.argv[1]) if len(sys.argv) > 1 else list(range(5))
    pretrain_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    finetune_epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    n_lines = sys.argv[4] if len(sys.argv) > 4 else "all"
    result = run(seeds, pretrain_epochs, finetune_epochs, n_lines)
    if len(sys.argv) > 5:
        result.to_csv(sys.argv[5], index=False)
    summarise(result)
