"""CSG²A fine-tuned on real GDSC ln IC50 beside MeanEffects and a random forest, under three split schemes.

Usage: python benchmarks/csg2a_ic50.py [n_lines] [n_folds_run] [pretrain_epochs] [finetune_epochs]

Data: ``sctl.datasets.gdsc()`` restricted to the landmark genes shared with the L1000 plate, ``n_lines`` random
cell lines (seed 0, default 200) x every GDSC drug with a SMILES. CSG²A is pretrained once on the L1000 plate
(``sctl.datasets.lincs()`` after ``sctl.pp.match_controls``; treated profiles of the plate drugs with a SMILES),
then for each scheme (``mixed``, ``cell_blind``, ``drug_blind`` of ``sctl.pp.split``, 5 folds, the first
``n_folds_run`` of them run, default 1) a copy is fine-tuned on the training pairs (frozen network, new head).

Baselines, fitted on the same training pairs:

* ``MeanEffects``: line effect + drug effect (an unseen drug gets the global mean plus the line effect);
* ``RF[expr+fp]``: one global ``RandomForestRegressor`` (100 trees, ``max_features="sqrt"``) on the
  concatenation [line expression (landmark genes), drug RDKit descriptors + 1,024-bit Morgan fingerprint], the
  same drug features CSG²A uses. Global for every scheme (a per-drug forest cannot predict unseen drugs).

Metrics on the test pairs: ``sctl.metrics.regression_report`` with drugs as groups: RMSE, pooled Pearson and
the unweighted mean of per-drug Pearson. Prints one row per (scheme, fold, model) as it completes, then the
table averaged over the folds run. One CPU thread for torch.
"""

import copy
import sys
import time

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import RandomForestRegressor

import sctl
from sctl.metrics import regression_report
from sctl.models import CSG2A
from sctl.models.baselines import MeanEffects
from sctl.models.csg2a._data import featurize

torch.set_num_threads(1)
N_LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
N_RUN = int(sys.argv[2]) if len(sys.argv) > 2 else 1
PRETRAIN_EPOCHS = int(sys.argv[3]) if len(sys.argv) > 3 else 50
FINETUNE_EPOCHS = int(sys.argv[4]) if len(sys.argv) > 4 else 20
N_FOLDS, SCHEMES = 5, ("mixed", "cell_blind", "drug_blind")

# ---------------------------------------------------------------- pretraining on the L1000 plate
lincs, full = sctl.datasets.lincs(), sctl.datasets.gdsc()
genes = full.var_names[full.var["landmark"].to_numpy()].intersection(lincs.var_names)
sctl.pp.match_controls(lincs, control="DMSO")
drug_table = full.uns["sctl_drugs"]
plate_smiles = {
    name: s for name, s in zip(drug_table["lincs_name"], drug_table["smiles"], strict=True) if isinstance(name, str)
}
treated = lincs[lincs.obs["drug"].astype(str).isin(plate_smiles), genes].copy()
CSG2A.setup_anndata(treated, drug_key="drug", smiles=plate_smiles)
start = time.perf_counter()
pretrained = CSG2A(treated, ppi=sctl.datasets.ppi()).train(max_epochs=PRETRAIN_EPOCHS, lr=3e-3, batch_size=16)
print(
    f"pretrain: {treated.n_obs} profiles x {len(genes)} genes, {len(plate_smiles)} drugs, "
    f"{PRETRAIN_EPOCHS} epochs, {time.perf_counter() - start:.0f} s",
    flush=True,
)

# ---------------------------------------------------------------- GDSC subset
drugs = [d for d in full.obsm["ln_ic50"].columns if isinstance(drug_table["smiles"].get(d), str)]
lines = np.random.default_rng(0).choice(full.obs_names, N_LINES, replace=False)
bulk = full[lines, genes].copy()
bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][drugs]
expression = np.asarray(bulk.X, dtype=np.float32)
drug_features = featurize({d: drug_table.loc[d, "smiles"] for d in drugs}, 1024).numpy()
print(f"GDSC: {bulk.n_obs} lines x {len(genes)} genes x {len(drugs)} drugs", flush=True)


def rf_features(pairs: pd.DataFrame) -> np.ndarray:
    rows = bulk.obs_names.get_indexer(pairs["cell_line"])
    cols = pd.Index(drugs).get_indexer(pairs["drug"])
    return np.hstack([expression[rows], drug_features[cols]])


def scores(model: str, scheme: str, fold: int, test: pd.DataFrame, pred: np.ndarray, seconds: float) -> dict:
    report = regression_report(test["ln_ic50"].to_numpy(), pred, groups=test["drug"].astype(str).to_numpy())
    return {
        "scheme": scheme,
        "fold": fold,
        "model": model,
        "n_test": int(report.loc["all", "n"]),
        "rmse": report.loc["all", "rmse"],
        "pearson": report.loc["all", "pearson"],
        "per_drug_pearson": report.loc["group_mean", "pearson"],
        "seconds": seconds,
    }


results = []
pd.set_option("display.width", 200)
for scheme in SCHEMES:
    sctl.pp.split(bulk, scheme, n_folds=N_FOLDS, seed=0)
    pairs = bulk.uns["sctl_split"]["pairs"]
    for fold, (train, test) in enumerate(sctl.pp.iter_folds(bulk)):
        if fold >= N_RUN:
            break
        train_pairs, test_pairs = pairs.iloc[train], pairs.iloc[test]
        rows = []

        t0 = time.perf_counter()
        pred = MeanEffects().fit(bulk, pairs=train_pairs).predict(test_pairs)
        rows.append(scores("MeanEffects", scheme, fold, test_pairs, pred, time.perf_counter() - t0))

        t0 = time.perf_counter()
        forest = RandomForestRegressor(n_estimators=100, max_features="sqrt", min_samples_leaf=3, random_state=0)
        forest.fit(rf_features(train_pairs), train_pairs["ln_ic50"].to_numpy())
        pred = forest.predict(rf_features(test_pairs))
        rows.append(scores("RF[expr+fp]", scheme, fold, test_pairs, pred, time.perf_counter() - t0))

        t0 = time.perf_counter()
        model = copy.deepcopy(pretrained)
        train_drugs = list(dict.fromkeys(train_pairs["drug"].astype(str)))
        model.finetune_ic50(bulk, drugs=train_drugs, pairs=train_pairs, max_epochs=FINETUNE_EPOCHS, lr=1e-3)
        table = model.predict_ic50(bulk, drugs)  # unseen (drug_blind) drugs through their SMILES
        pred = table.to_numpy()[
            bulk.obs_names.get_indexer(test_pairs["cell_line"]), table.columns.get_indexer(test_pairs["drug"])
        ]
        rows.append(scores("CSG2A", scheme, fold, test_pairs, pred, time.perf_counter() - t0))

        frame = pd.DataFrame(rows)
        results.extend(rows)
        print(frame.round(3).to_string(index=False), flush=True)

table = pd.DataFrame(results)
summary = table.groupby(["scheme", "model"], sort=False)[["n_test", "rmse", "pearson", "per_drug_pearson", "seconds"]]
print(f"\nMean over {N_RUN} fold(s) of {N_FOLDS}:")
print(summary.mean().round(3).to_string())
