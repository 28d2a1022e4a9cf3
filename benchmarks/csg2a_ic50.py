"""CSG²A fine-tuned on real GDSC ln IC50 beside MeanEffects and a random forest, under four split schemes.

Usage:
    python benchmarks/csg2a_ic50.py [seeds] [pretrain_epochs] [finetune_epochs] [n_lines] [out.csv]
        [--schemes=mixed,cell_blind,drug_blind,disjoint] [--folds=0|all] [--models=MeanEffects,CSG2A,...]
    python benchmarks/csg2a_ic50.py --summary out1.csv [out2.csv ...]

``seeds``: ``0-4`` (default) or ``0,2``; ``n_lines``: ``all`` (default, the 919 GDSC lines) or a number of
random lines. Runs of different seeds can go to separate files and be summarised together. ``--schemes``: the
split schemes to run (all four by default). ``--folds=all``: every fold of each split is held out in turn and each
model is scored once on all their test pairs (every drug of ``drug_blind`` tested once per seed), 5 times the cost
of the default ``--folds=0`` (fold 0 only). ``--models``: the models to run (all five below by default).

Data: ``sctl.datasets.gdsc()``, every cell line x every GDSC drug with a SMILES (40), on the 485 landmark genes
shared with the L1000 plate. For each seed, CSG²A is pretrained on the L1000 plate (``sctl.datasets.lincs()`` after
``sctl.pp.match_controls``; the treated profiles of the 14 plate drugs with a SMILES; STRING prior of
``sctl.datasets.ppi()``; model seed = seed), then, for each scheme (``mixed``, ``cell_blind``, ``drug_blind``,
``disjoint`` of ``sctl.pp.split``, 5 folds drawn with that seed), fold 0 is held out and a copy of the pretrained
network is fine-tuned on the training pairs (``CSG2AIC50.from_pretrained``: frozen network, new head). ``CSG2A`` has
the default settings (``preset="sctl"``: attention restricted to the PPI edges; ``CSG2AIC50`` with a drug offset from
the Tanimoto-nearest training drugs and descriptors clipped to the training drugs' range), pretrained with lr 3e-3,
batch 16 and fine-tuned with lr 1e-3; ``CSG2A[full]`` scores every gene pair as the paper does (otherwise as
``CSG2A``); ``CSG2A[paper]`` is ``preset="paper"`` in both stages (the paper's network and fine-tuning, the
authors' optimiser settings and early stopping; ``pretrain_epochs`` and ``finetune_epochs`` cap its epochs);
``CSG2A[paper head]`` is the ``CSG2A`` network fine-tuned with the paper's head (``offset="none",
clip_features=False``), what ``CSG2A[paper]`` meant before issue 18. A seed is therefore a new split and a new
model: mean ± std over seeds covers both.

Under ``drug_blind`` and ``disjoint`` most of that spread is the split's: fold 0 holds 8 of the 40 drugs, and
whether it holds a drug far from the others (Bortezomib, mean ln IC50 -4.8 against 1.9 over drugs) moves every
model's RMSE by about a unit (MeanEffects: std 0.73 over 10 seeds on all lines). The summary therefore also gives
``Δ vs MeanEffects``, each model's RMSE minus MeanEffects' on the same split, whose std over seeds is the model's
own instability.

Baselines, fitted on the same training pairs:

* ``MeanEffects``: line effect + drug effect (an unseen line or drug gets the global mean plus the known effect);
* ``RF[expr+fp]``: one global ``RandomForestRegressor`` (100 trees, ``max_features="sqrt"``,
  ``min_samples_leaf=3``, seed = seed) on [line expression (landmark genes), drug RDKit descriptors + 1,024-bit
  Morgan fingerprint], the same drug features CSG²A uses; global for every scheme (a per-drug forest cannot
  predict unseen drugs).

Metrics on the test pairs: ``sctl.metrics.regression_report`` with drugs as groups: RMSE, pooled Pearson and the
unweighted mean of per-drug Pearson (NaN under ``drug_blind`` / ``disjoint`` for a drug with fewer than 3 test
lines). Prints one row per (seed, scheme, model) as it completes, then mean ± std over seeds. One torch thread.

Full run (50 / 20 epochs, all lines) takes 18-40 min per seed on one thread; a reduced configuration, e.g.
``python benchmarks/csg2a_ic50.py 0-4 10 10 200 /tmp/csg2a/reduced.csv`` (10 pretraining and 10 fine-tuning
epochs, 200 random lines), about 3 min per seed. Every fold at full size, drug-blind only, without ``CSG2A[full]``
(``csg2a_ic50.py <seed> 50 20 all out.csv --schemes=drug_blind --folds=all
--models=MeanEffects,RF[expr+fp],CSG2A,CSG2A[paper head]``): about 35 min per seed with 3 runs sharing 2 cores.
The paper preset beside the sctl one on the same splits: ``--models=MeanEffects,CSG2A,CSG2A[paper]``.
"""

import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from sklearn.ensemble import RandomForestRegressor

import sctl
from sctl.metrics import regression_report
from sctl.models import CSG2A, CSG2AIC50
from sctl.models.baselines import MeanEffects
from sctl.models.csg2a._data import featurize

torch.set_num_threads(1)
warnings.filterwarnings("ignore")
N_FOLDS, SCHEMES = 5, ("mixed", "cell_blind", "drug_blind", "disjoint")
MODELS = ("MeanEffects", "RF[expr+fp]", "CSG2A", "CSG2A[full]", "CSG2A[paper]", "CSG2A[paper head]")
# pretrained network of each model
NETWORK = {"CSG2A": "CSG2A", "CSG2A[full]": "CSG2A[full]", "CSG2A[paper]": "CSG2A[paper]", "CSG2A[paper head]": "CSG2A"}
# constructor and pretraining settings of each network (the paper preset takes its own optimiser settings)
PRETRAIN = {
    "CSG2A": ({}, {"lr": 3e-3, "batch_size": 16}),
    "CSG2A[full]": ({"attention": "full"}, {"lr": 3e-3, "batch_size": 16}),
    "CSG2A[paper]": ({"preset": "paper"}, {}),
}
METRICS = ("rmse", "pearson", "per_drug_pearson")
# fine-tuning recipes: (CSG2AIC50 settings, CSG2AIC50.train settings)
PAPER_HEAD = ({"offset": "none", "clip_features": False}, {"lr": 1e-3})  # the paper's head on the sctl network
SCTL_FINETUNE = ({}, {"lr": 1e-3})
pd.set_option("display.width", 200)


def summarise(table: pd.DataFrame) -> None:
    stats = table.groupby(["scheme", "model"], sort=False)[[*METRICS, "n_test", "seconds"]].agg(["mean", "std"])
    out = pd.DataFrame(index=stats.index)
    for metric in METRICS:
        mean, std = stats[(metric, "mean")], stats[(metric, "std")].fillna(0.0)
        out[metric] = ["n/a" if np.isnan(m) else f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, std, strict=True)]
    baseline = table[table["model"] == "MeanEffects"].set_index(["seed", "scheme"])["rmse"]
    delta = table["rmse"] - baseline.reindex(pd.MultiIndex.from_frame(table[["seed", "scheme"]])).to_numpy()
    paired = delta.groupby([table["scheme"], table["model"]], sort=False).agg(["mean", "std"])
    out["Δ rmse vs MeanEffects"] = [
        f"{m:+.3f} ± {s:.3f}" for m, s in zip(paired["mean"], paired["std"].fillna(0.0), strict=True)
    ]
    out["n_test"] = stats[("n_test", "mean")].round(0).astype(int)
    out["seconds"] = stats[("seconds", "mean")].round(0).astype(int)
    folds = "every fold" if table.get("folds", pd.Series(["0"])).astype(str).eq("all").all() else "fold 0"
    print(f"\nMean ± std over {table['seed'].nunique()} seed(s) ({folds} of a {N_FOLDS}-fold split per seed):")
    print(out.to_string())


def run(
    seeds: list[int],
    pretrain_epochs: int,
    finetune_epochs: int,
    n_lines: str,
    schemes: tuple[str, ...] = SCHEMES,
    all_folds: bool = False,
    model_names: tuple[str, ...] = MODELS,
) -> pd.DataFrame:
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
            "n_train": round(n_train),
            "folds": "all" if all_folds else "0",
            "n_test": int(report.loc["all", "n"]),
            "rmse": report.loc["all", "rmse"],
            "pearson": report.loc["all", "pearson"],
            "per_drug_pearson": report.loc["group_mean", "pearson"],
            "seconds": seconds,
        }

    def mean_effects(train_pairs: pd.DataFrame, test_pairs: pd.DataFrame) -> np.ndarray:
        return MeanEffects().fit(bulk, pairs=train_pairs).predict(test_pairs)

    def forest(seed: int) -> Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]:
        def fit(train_pairs: pd.DataFrame, test_pairs: pd.DataFrame) -> np.ndarray:
            model = RandomForestRegressor(n_estimators=100, max_features="sqrt", min_samples_leaf=3, random_state=seed)
            model.fit(rf_features(train_pairs), train_pairs["ln_ic50"].to_numpy())
            return model.predict(rf_features(test_pairs))

        return fit

    def csg2a(network: CSG2A, recipe: tuple[dict, dict]) -> Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]:
        settings, fit_settings = recipe

        def fit(train_pairs: pd.DataFrame, test_pairs: pd.DataFrame) -> np.ndarray:
            train_drugs = list(dict.fromkeys(train_pairs["drug"].astype(str)))
            model = CSG2AIC50.from_pretrained(network, bulk, drugs=train_drugs, pairs=train_pairs, **settings)
            model.train(max_epochs=finetune_epochs, enable_progress_bar=False, **fit_settings)
            table = model.predict(bulk, drugs)  # unseen (drug_blind, disjoint) drugs through their SMILES
            return table.to_numpy()[
                bulk.obs_names.get_indexer(test_pairs["cell_line"]), table.columns.get_indexer(test_pairs["drug"])
            ]

        return fit

    def models(seed: int, pretrained: dict[str, CSG2A]) -> list[tuple[str, Callable]]:
        fits = {
            "MeanEffects": lambda: mean_effects,
            "RF[expr+fp]": lambda: forest(seed),
            "CSG2A": lambda: csg2a(pretrained["CSG2A"], SCTL_FINETUNE),
            "CSG2A[full]": lambda: csg2a(pretrained["CSG2A[full]"], SCTL_FINETUNE),
            "CSG2A[paper]": lambda: csg2a(pretrained["CSG2A[paper]"], ({}, {})),  # the preset's fine-tuning
            "CSG2A[paper head]": lambda: csg2a(pretrained["CSG2A"], PAPER_HEAD),
        }
        return [(name, fits[name]()) for name in model_names]

    results = []
    for seed in seeds:
        start = time.perf_counter()
        pretrained = {}
        for name in dict.fromkeys(NETWORK[model] for model in model_names if model in NETWORK):
            init, fit = PRETRAIN[name]
            pretrained[name] = CSG2A(treated, ppi=sctl.datasets.ppi(), seed=seed, **init)
            pretrained[name].train(max_epochs=pretrain_epochs, enable_progress_bar=False, **fit)
        print(
            f"seed {seed}: pretrained on {treated.n_obs} L1000 profiles x {len(genes)} genes "
            f"({pretrain_epochs} epochs, {time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        for scheme in schemes:
            sctl.pp.split(bulk, scheme, n_folds=N_FOLDS, seed=seed)
            pairs = bulk.uns["sctl_split"]["pairs"]
            folds = list(sctl.pp.iter_folds(bulk))[: N_FOLDS if all_folds else 1]
            tested, preds, seconds = [], {}, {}
            n_train = 0
            for train, test in folds:  # with every fold, each model is scored once on all their test pairs
                train_pairs, test_pairs = pairs.iloc[train], pairs.iloc[test]
                n_train += len(train_pairs) / len(folds)
                tested.append(test_pairs)
                for name, fit in models(seed, pretrained):
                    t0 = time.perf_counter()
                    preds.setdefault(name, []).append(fit(train_pairs, test_pairs))
                    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
            test_pairs = pd.concat(tested)
            rows = [
                scores(name, seed, scheme, test_pairs, np.concatenate(values), seconds[name])
                for name, values in preds.items()
            ]
            results.extend(rows)
            print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    return pd.DataFrame(results)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summary"]:
        summarise(pd.concat([pd.read_csv(path) for path in sys.argv[2:]], ignore_index=True))
        sys.exit(0)
    options = dict(arg.removeprefix("--").split("=", 1) for arg in sys.argv[1:] if arg.startswith("--"))
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    seeds = seeds_arg(args[0]) if len(args) > 0 else list(range(5))
    pretrain_epochs = int(args[1]) if len(args) > 1 else 50
    finetune_epochs = int(args[2]) if len(args) > 2 else 20
    n_lines = args[3] if len(args) > 3 else "all"
    schemes = tuple(options.get("schemes", ",".join(SCHEMES)).split(","))
    model_names = tuple(options.get("models", ",".join(MODELS)).split(","))
    if unknown := set(model_names) - set(MODELS):
        sys.exit(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    all_folds = options.get("folds", "0") == "all"
    result = run(seeds, pretrain_epochs, finetune_epochs, n_lines, schemes, all_folds, model_names)
    if len(args) > 4:
        result.to_csv(args[4], index=False)
    summarise(result)
