"""GRIP and SeqPerturb against naive baselines on the real L1000 plate (A375, 24 h): held-out doses and drugs.

Usage: python benchmarks/perturbation_models.py [n_dose_folds] [n_drug_folds] [out.csv]

Leave-one-dose-out (6 folds) and drug-blind folds; models that embed drugs by identity cannot predict unseen drugs
and get NaN there. Prints the mean over folds of each metric per model and, for doses, each fold (changes
Δx = treated - mean DMSO, log2 units); writes the tidy table to ``out.csv`` when given.
"""

import sys
import time

import pandas as pd
import torch

import sctl

torch.set_num_threads(1)
plate = sctl.datasets.lincs()
sctl.pp.match_controls(plate, control="DMSO")
sctl.pp.log_fold_change(plate)
n_dose = int(sys.argv[1]) if len(sys.argv) > 1 else 6
n_drug = int(sys.argv[2]) if len(sys.argv) > 2 else 5
tables = []
for scheme, n_folds, models in (("dose", n_dose, ["GRIP", "SeqPerturb"]), ("drug_blind", n_drug, [])):
    start = time.perf_counter()
    tables.append(sctl.tl.evaluate_perturbation(plate, models, scheme=scheme, n_folds=n_folds))
    print(f"{scheme}: {time.perf_counter() - start:.0f} s", flush=True)
table = pd.concat(tables)
if len(sys.argv) > 3:
    table.to_csv(sys.argv[3], index=False)
metrics = ["mean_rowwise_rmse", "mae", "sign_accuracy", "mean_pearson", "pearson_delta", "seconds"]
summary = table[table["metric"].isin(metrics)].groupby(["scheme", "model", "metric"])["value"].mean().unstack()
print(summary[metrics].round(3).to_string())
per_fold = table.query("scheme == 'dose' and metric == 'mean_rowwise_rmse'").pivot(
    index="fold", columns="model", values="value"
)
print(per_fold.round(3).to_string())
