"""GRIP, SeqPerturb, their ensemble and CSG²A beside naive baselines on the L1000 plate: held-out doses, wells, drugs.

Usage:
    python benchmarks/perturbation_models.py [seeds] [n_dose_folds] [n_drug_folds] [out.csv]
    python benchmarks/perturbation_models.py --summary out1.csv [out2.csv ...]
    python benchmarks/perturbation_models.py --quick

``seeds``: ``0-4`` (default) or ``0,2``; ``n_dose_folds`` default 3 (the 6 dose levels, two per fold);
``n_drug_folds`` default 5. Runs of different seeds can go to separate files and be summarised together.
``--quick`` (the reduced setting of ``sctl benchmark --quick``, a few minutes): seed 0 (or ``seeds``), the first
fold of each scheme only, without ``CSG2A[full]`` and ``CSG2A[ppi] x3``, ``CSG2A[paper]`` capped at 100 epochs.

Data: ``sctl.datasets.lincs()`` (A375, 24 h, 978 landmark genes, 59 drugs x 6 doses, one profile each), basal
profile = mean DMSO of the plate (``sctl.pp.match_controls``), changes Δx = treated - basal
(``sctl.pp.log_fold_change``). Every (setting, scheme, seed) is one call of :func:`sctl.tl.evaluate_perturbation`
(folds and model seeds from ``seed``), so every model and baseline sees the same folds:

* ``all drugs`` (59 drugs): GRIP and SeqPerturb (default settings; GRIP's embeddings added to the input as in
  GRIP-Lung section 4.4), ``GRIP[film only]`` (``condition_input="none"``) and ``ensemble``
  (:class:`sctl.models.PerturbationEnsemble`: 3 seeds of GRIP and of SeqPerturb averaged with the ridge) under
  held-out doses (``dose``) and held-out wells of seen drugs (``mixed``: 5 folds of 20 % of the wells, the first
  3 scored). Under held-out drugs they cannot predict (they embed drugs by identity): only the baselines are
  scored there, the models are reported as not applicable rather than trained for nothing.
* ``SMILES drugs`` (the 14 plate drugs with a SMILES in the GDSC drug table, 83 profiles): CSG²A
  (``preset="sctl"``) with attention restricted to the PPI edges (``CSG2A[ppi]``) and with full attention
  (``CSG2A[full]``), both with the STRING prior of ``sctl.datasets.ppi()``, trained 100 epochs, lr 3e-3, batch 16;
  ``CSG2A[paper]``: ``preset="paper"`` with the same prior, trained with the preset's settings (lr 1e-4, batch 128,
  early stopping on 10 % of the profiles, at most 1000 epochs); beside GRIP and SeqPerturb trained on the same
  subset (held-out doses) and beside the baselines; held-out drugs: CSG²A only, predicting unseen drugs from
  their SMILES, and ``CSG2A[ppi] x3``, the mean of 3 seeds of CSG²A with PPI attention.

``GRIP[paper]`` and ``SeqPerturb[paper]`` (``preset="paper"``: every choice as the paper states it, e.g.
SeqPerturb 300 epochs, batch 20, lr 1e-3, five tokens where the data have them; GRIP separate input / output
scaling, no dropout, batch 32, MSE + 0.1 adversarial) are scored beside the sctl presets wherever those are,
on the same folds (``paper_presets``).

Baselines (fitted on the same training folds): ``zero_change``, ``mean_shift`` (training mean Δx),
``per_drug_mean`` (mean Δx of the drug in training; the mean shift for an unseen drug), ``ridge`` (one-hot drug,
log dose, drug x log dose) and, on the SMILES drugs (their SMILES in ``uns["sctl_drugs"]``), ``nearest_drugs``
(:class:`sctl.models.baselines.NearestDrugs`: an unseen drug gets the similarity-weighted mean Δx of its 3
Tanimoto-nearest training drugs, shrunk toward the mean shift).

Metrics on the held-out profiles (:func:`sctl.metrics.perturbation_report`): ``pearson`` = mean over profiles of
Pearson(predicted Δx, observed Δx); ``pearson_delta`` = the same on the deviations from the training mean shift
(what a model gets right beyond the average drug effect; NaN for the mean shift itself); ``sign_accuracy`` (share
of all (profile, gene) entries whose direction is right, most of them noise around zero); ``direction`` (share of
the entries that moved, ``|Δx| > 0.5``, whose direction is right: :func:`sctl.metrics.direction_accuracy`);
``rmse`` = mean over profiles of the RMSE of Δx. Each seed's folds are
averaged first; the table gives mean ± std over seeds. One torch thread.
"""

import logging
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from anndata import AnnData

import sctl
from sctl.models import CSG2A, GRIP, PerturbationEnsemble

torch.set_num_threads(1)
warnings.filterwarnings("ignore")
for name in ("lightning", "lightning.pytorch", "lightning.fabric", "sctl"):
    logging.getLogger(name).setLevel(logging.ERROR)
METRICS = {
    "mean_pearson": "pearson",
    "pearson_delta": "pearson_delta",
    "sign_accuracy": "sign_accuracy",
    "direction_accuracy": "direction",
    "mean_rowwise_rmse": "rmse",
}
N_WELL_FOLDS, SCORED_WELL_FOLDS = 5, 3  # held-out wells: 20 % per fold, the first 3 folds scored
pd.set_option("display.width", 250)


def summarise(table: pd.DataFrame) -> None:
    table = table[table["metric"].isin(METRICS)]
    per_seed = table.groupby(["setting", "scheme", "model", "metric", "seed"], sort=False)["value"].mean()
    stats = per_seed.groupby(level=["setting", "scheme", "model", "metric"], sort=False).agg(["mean", "std", "count"])
    cells = stats.apply(
        lambda r: "n/a" if np.isnan(r["mean"]) else f"{r['mean']:.3f} ± {0.0 if np.isnan(r['std']) else r['std']:.3f}",
        axis=1,
    )
    wide = cells.unstack("metric")[list(METRICS)].rename(columns=METRICS)
    n_seeds = int(per_seed.index.get_level_values("seed").nunique())
    folds = table.groupby(["setting", "scheme"])["fold"].nunique()
    print(
        f"\nMean ± std over {n_seeds} seed(s) (folds averaged within each seed; folds per scheme: {folds.to_dict()}):"
    )
    print(wide.to_string())


class CSG2AChanges:
    """CSG²A behind the ``predict(adata, drug=, dose=)`` surface of evaluate_perturbation; SMILES from a table."""

    predicts = "profile"

    def __init__(self, model: CSG2A, smiles: dict[str, str]) -> None:
        self.model, self.smiles = model, smiles

    def predict(self, adata: AnnData, *, drug=None, dose=None) -> pd.DataFrame:
        return self.model.predict(adata, smiles=self.smiles if drug is None else None, drug=drug, dose=dose)


SCTL_FIT = {"max_epochs": 100, "lr": 3e-3, "batch_size": 16}


def csg2a_factory(init: dict, fit: dict, smiles: dict[str, str], seed: int):
    """CSG²A built with ``init`` (constructor settings) and trained with ``fit`` (``train`` settings)."""

    def factory(train: AnnData, model_seed: int = seed) -> CSG2AChanges:
        train = train.copy()
        CSG2A.setup_anndata(train, drug_key="drug", smiles=smiles)
        model = CSG2A(train, ppi=sctl.datasets.ppi(), seed=model_seed, **init)
        model.train(enable_progress_bar=False, **fit)
        return CSG2AChanges(model, smiles)

    return factory


def csg2a_seeds(smiles: dict[str, str], seed: int):
    """Three seeds of CSG²A (PPI attention) averaged: :class:`sctl.models.PerturbationEnsemble` of one member."""
    members = {"CSG2A": csg2a_factory({"attention": "ppi"}, SCTL_FIT, smiles, seed)}
    return lambda train: PerturbationEnsemble(members, n_seeds=3, seed=10 * seed).fit(train)


def grip_film_only(seed: int):
    """GRIP with the condition through FiLM only (``condition_input="none"``), beside the paper's default."""

    def factory(train: AnnData) -> GRIP:
        GRIP.setup_anndata(train, dose_key="dose")
        model = GRIP(train, condition_input="none", seed=seed)
        model.train(seed=seed, enable_progress_bar=False)
        return model

    return factory


#: (setting, scheme) where GRIP and SeqPerturb are scored, and so also their paper presets
PAPER_RUNS = {("all drugs", "dose"), ("all drugs", "mixed"), ("SMILES drugs", "dose")}


def paper_presets(seed: int) -> dict:
    """GRIP and SeqPerturb with ``preset="paper"``, trained as ``evaluate_perturbation`` trains them by name."""
    from sctl.models._perturbation_ensemble import train_named_model

    def factory(name: str):
        return lambda train: train_named_model(
            name, train, seed=seed, preset="paper", train_kwargs={"enable_progress_bar": False}
        )

    return {f"{name}[paper]": factory(name) for name in ("GRIP", "SeqPerturb")}


def run(seeds: list[int], n_dose: int, n_drug: int, quick: bool = False) -> pd.DataFrame:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    drug_table = sctl.datasets.gdsc().uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(drug_table["lincs_name"], drug_table["smiles"], strict=True))
    keep = plate.obs["is_control"].to_numpy(bool) | plate.obs["drug"].astype(str).isin(smiles).to_numpy()
    subset = plate[keep].copy()
    subset.uns["sctl_drugs"] = pd.DataFrame({"smiles": pd.Series(smiles)})  # for the nearest_drugs baseline
    print(
        f"plate: {int((~plate.obs['is_control']).sum())} treated profiles, {plate.obs['drug'].nunique() - 1} drugs; "
        f"SMILES subset: {int((~subset.obs['is_control']).sum())} profiles, {len(smiles)} drugs",
        flush=True,
    )
    tables = []
    for seed in seeds:
        paper_fit = {"max_epochs": 100} if quick else {}
        csg2a = {
            "CSG2A[ppi]": csg2a_factory({"attention": "ppi"}, SCTL_FIT, smiles, seed),
            "CSG2A[paper]": csg2a_factory({"preset": "paper"}, paper_fit, smiles, seed),
        }
        unseen = dict(csg2a)
        if not quick:
            csg2a["CSG2A[full]"] = csg2a_factory({"attention": "full"}, SCTL_FIT, smiles, seed)
            unseen = {**csg2a, "CSG2A[ppi] x3": csg2a_seeds(smiles, seed)}
        named = ["GRIP", "SeqPerturb", "ensemble"]
        runs = [  # (setting, data, scheme, folds, models beside the baselines, more models on the same folds)
            ("all drugs", plate, "dose", n_dose, {"GRIP[film only]": grip_film_only(seed)}, named),
            ("all drugs", plate, "mixed", N_WELL_FOLDS, named, None),
            ("all drugs", plate, "drug_blind", n_drug, [], None),
            ("SMILES drugs", subset, "dose", n_dose, csg2a, ["GRIP", "SeqPerturb"]),
            ("SMILES drugs", subset, "drug_blind", n_drug, unseen, None),
        ]
        for setting, adata, scheme, n_folds, models, more in runs:
            start = time.perf_counter()
            kwargs = {"scheme": scheme, "n_folds": n_folds, "seed": seed, "key_added": None}
            kwargs["max_folds"] = 1 if quick else SCORED_WELL_FOLDS if scheme == "mixed" else None
            kwargs["train_kwargs"] = {"enable_progress_bar": False}  # for the named models
            table = sctl.tl.evaluate_perturbation(adata, models, **kwargs)
            if more:  # the folds depend on the seed only: the same held-out profiles
                table = pd.concat([table, sctl.tl.evaluate_perturbation(adata, more, baselines=False, **kwargs)])
            if (setting, scheme) in PAPER_RUNS:  # the paper presets on the same folds
                paper = sctl.tl.evaluate_perturbation(adata, paper_presets(seed), baselines=False, **kwargs)
                table = pd.concat([table, paper])
            table.insert(0, "setting", setting)
            table["seed"] = seed
            tables.append(table)
            print(f"seed {seed}, {setting}, {scheme}: {time.perf_counter() - start:.0f} s", flush=True)
            summarise(table)
    return pd.concat(tables, ignore_index=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summary"]:
        summarise(pd.concat([pd.read_csv(path) for path in sys.argv[2:]], ignore_index=True))
        sys.exit(0)
    quick = "--quick" in sys.argv
    args = [arg for arg in sys.argv[1:] if arg != "--quick"]
    seeds = seeds_arg(args[0]) if args else [0] if quick else list(range(5))
    n_dose = int(args[1]) if len(args) > 1 else 3
    n_drug = int(args[2]) if len(args) > 2 else 5
    result = run(seeds, n_dose, n_drug, quick)
    if len(args) > 3:
        result.to_csv(args[3], index=False)
    summarise(result)
    gaps = ["GRIP", "SeqPerturb"]
    print(
        f"\n{', '.join(gaps)} under held-out drugs: not applicable (drugs embedded by identity; CSG2A embeds SMILES)."
    )
