"""CPA (cpa-tools) beside the naive baselines on the L1000 plate's held-out doses, on perturbation_models.py's folds.

Usage:
    bash benchmarks/cpa_env.sh /work/cpa_venv          # once: CPA's own environment (see below)
    python benchmarks/cpa_perturbation.py --cpa-python /work/cpa_venv/bin/python [seeds] [out.csv]

``seeds``: ``0-4`` (default) or ``0,2``; ``--cpa-python`` defaults to ``$SCTL_CPA_PYTHON``. Runs of different
seeds can go to separate files; ``python benchmarks/perturbation_models.py --summary a.csv b.csv`` summarises them
together with the CSVs of perturbation_models.py (same columns: ``setting``, evaluate_perturbation's table, ``seed``).

CPA, the Compositional Perturbation Autoencoder: Lotfollahi M. et al., "Predicting cellular responses to complex
perturbations in high-throughput screens", Mol Syst Biol 19:e11517 (2023); package ``cpa-tools`` (scverse).

Why a second environment: cpa-tools 0.8.1 (the latest release) requires ``torch>1.8.0,<2.0.0`` and
``scvi-tools>=0.20.3,<1.0.0``, while sctl runs on torch 2 and scvi-tools 1.x, so CPA cannot be installed beside
sctl. ``cpa_env.sh`` builds a Python 3.9 environment with exact pins (torch 1.12.1, scvi-tools 0.20.3,
pytorch-lightning 1.9.5, numpy 1.26.4, anndata 0.9.2; cpa-tools also needs scanpy and seaborn, which it does not
declare) and this script runs CPA there through ``_cpa_worker.py`` in a subprocess, one fit and one prediction per
fold, exchanging .h5ad files in a temporary folder. Without that interpreter, or when it cannot import cpa-tools or
CPA fails on the plate, the script prints why and exits 0 without a table.

Data: ``sctl.datasets.lincs()`` (A375, 24 h, 978 landmark genes, 59 drugs x 6 doses, one profile each, 26 DMSO
wells), ``sctl.pp.match_controls(plate, control="DMSO")``, ``sctl.pp.log_fold_change(plate)``, then per seed one call
of ``sctl.tl.evaluate_perturbation(plate, {"CPA": ...}, scheme="dose", n_folds=3, seed=seed, baselines=True)``:
the "all drugs / held-out doses" setting of perturbation_models.py, so the folds (two whole dose levels held out per
fold) and the baselines (``zero_change``, ``mean_shift``, ``per_drug_mean``, ``ridge``) are the same as there.

CPA per fold: trained on the fold's treated profiles plus the plate's 26 DMSO profiles (its control group; they are
never scored), expression as given (log-normalised, continuous: Gaussian likelihood), drug as perturbation with its
dose in µM (DMSO: dose 0) through CPA's log-sigmoid doser, cell line as covariate. 10% of those profiles (seeded)
are CPA's validation set for its early stopping and best-state checkpoint, as CPA's default random split does.
Hyperparameters (``_cpa_worker.py``): latent 64; encoder and decoder 2 x 256 (batch norm in the encoder, layer
norm and dropout 0.1 in the decoder); adversary 3 x 64, dropout 0.3, reg_adv 20, pen_adv 5; autoencoder pretraining
30 epochs, adversary warm-up 50; learning rates 3e-4 (autoencoder, adversary, doser), weight decay 4e-7, step size
45, gradient clipping 1.0; batch 32; at most 400 epochs, validation every 5, early stopping patience 10 checks; model
seed = the fold seed; CPU, one thread. These follow the cpa-tools tutorials; on an inner split (seed 0, outer fold 0's
training profiles only, one dose level held out) they did as well as or better than learning rate 1e-3 with latent 32,
or with a weaker adversary (reg_adv 1, pen_adv 1); ``$SCTL_CPA_CONFIG`` (JSON ``{"module": {...}, "plan": {...},
"train": {...}}``) overrides them for such checks. Prediction is CPA's counterfactual: every DMSO profile is encoded,
the held-out drug at the held-out dose is added in latent space, the decoded profiles are averaged over the 26
controls; evaluate_perturbation turns the profile into the change against the plate's mean DMSO profile.

Metrics as in perturbation_models.py (:func:`sctl.metrics.perturbation_report` on the changes Δx): ``pearson``,
``pearson_delta`` (beyond the training mean shift), ``sign_accuracy``, ``rmse`` (row-wise); each seed's folds
averaged first, then mean ± std over seeds. CPA's ``seconds`` include starting the CPA interpreter (about 10 s).
The last line compares how much CPA's predictions differ between held-out profiles with how much the observed
changes do (a model that predicts one profile for every drug and dose scores like the zero or mean change).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from _seeds import seeds_arg  # benchmarks/ is on the path of a script run from it
from perturbation_models import summarise

import sctl

WORKER = Path(__file__).with_name("_cpa_worker.py")
SETTING = "all drugs"
CHECK = "import cpa, scvi, torch; from importlib.metadata import version; print(version('cpa-tools'), scvi.__version__, torch.__version__)"  # noqa: E501


#: per prediction: (mean over genes of the std over profiles of CPA's predicted profile, the same of the observed Δx)
SPREAD: list[tuple[float, float]] = []


class CPAUnavailable(RuntimeError):
    """CPA cannot be installed or run here; the message says why."""


def run_worker(python: str, *args: str) -> str:
    """Run ``_cpa_worker.py`` in the CPA environment, one thread; its stdout, or CPAUnavailable with its error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([python, str(WORKER), *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise CPAUnavailable(f"_cpa_worker.py {args[0]} failed (exit {done.returncode}): {' | '.join(lines[-3:])}")
    return done.stdout


def check_cpa(python: str | None) -> str:
    """Versions of cpa-tools, scvi-tools and torch in the CPA environment, or CPAUnavailable saying why not."""
    if not python:
        raise CPAUnavailable(
            "no CPA interpreter: pass --cpa-python or set $SCTL_CPA_PYTHON (build it with benchmarks/cpa_env.sh); "
            "cpa-tools 0.8.1 requires torch<2.0 and scvi-tools<1.0 and cannot be installed in sctl's environment"
        )
    try:
        done = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, check=False)
    except OSError as error:
        raise CPAUnavailable(f"cannot start {python}: {error}") from error
    if done.returncode != 0:
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:]
        raise CPAUnavailable(f"{python} cannot import cpa-tools: {' '.join(last)}")
    return done.stdout.strip()


def _obs(adata: ad.AnnData) -> pd.DataFrame:
    obs = adata.obs[["drug", "dose", "cell_line"]].copy()
    obs["drug"] = obs["drug"].astype(str)
    obs["cell_line"] = obs["cell_line"].astype(str)
    obs["dose"] = obs["dose"].astype(float)
    return obs


def _dense(adata: ad.AnnData) -> np.ndarray:
    x = adata.X
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)


def _write(path: Path, x: np.ndarray, obs: pd.DataFrame, genes: pd.Index) -> None:
    ad.AnnData(X=np.asarray(x, dtype=np.float32), obs=obs, var=pd.DataFrame(index=genes)).write_h5ad(path)


class CPAModel:
    """A trained CPA (saved by the worker) behind evaluate_perturbation's ``predict(adata, drug=, dose=)``."""

    predicts = "profile"

    def __init__(self, python: str, model_dir: Path, controls: ad.AnnData, drugs: set[str]) -> None:
        self.python, self.model_dir, self.controls, self.drugs = python, model_dir, controls, drugs

    def predict(self, adata: ad.AnnData, *, drug=None, dose=None) -> pd.DataFrame:
        obs = _obs(adata)
        if drug is not None:
            obs["drug"] = drug
        if dose is not None:
            obs["dose"] = dose
        unseen = sorted(set(obs["drug"]) - self.drugs)
        if unseen:
            raise KeyError(f"CPA embeds drugs by identity; not in training: {', '.join(unseen[:5])}")
        n_ctrl = self.controls.n_obs
        query = obs.loc[obs.index.repeat(n_ctrl)].reset_index(drop=True)  # each profile x each DMSO control
        query.index = query.index.astype(str)
        x = np.tile(_dense(self.controls), (adata.n_obs, 1))
        folder = self.model_dir.parent
        _write(folder / "query.h5ad", x, query, self.controls.var_names)
        run_worker(self.python, "predict", str(self.model_dir), str(folder / "query.h5ad"), str(folder / "pred.npy"))
        predicted = np.load(folder / "pred.npy").reshape(adata.n_obs, n_ctrl, -1).mean(1)
        if "sctl_delta" in adata.layers:  # how much the predictions differ between profiles, beside the observed
            observed = np.asarray(adata.layers["sctl_delta"], dtype=np.float64)
            SPREAD.append((float(predicted.std(0).mean()), float(observed.std(0).mean())))
        return pd.DataFrame(predicted, index=adata.obs_names, columns=self.controls.var_names)


def cpa_factory(python: str, controls: ad.AnnData, seed: int, workdir: Path, log: list[str]):
    """Factory of evaluate_perturbation: writes the fold's training set plus the DMSO controls, trains CPA there."""
    count = iter(range(10**6))

    def factory(train: ad.AnnData) -> CPAModel:
        folder = workdir / f"seed{seed}_fit{next(count)}"
        folder.mkdir(parents=True)
        obs = pd.concat([_obs(train), _obs(controls)])
        x = np.vstack([_dense(train), _dense(controls)])
        rng = np.random.default_rng(seed)
        obs["split"] = np.where(rng.permutation(len(obs)) < round(0.1 * len(obs)), "valid", "train")
        _write(folder / "train.h5ad", x, obs, train.var_names)
        out = run_worker(python, "fit", str(folder / "train.h5ad"), str(folder / "model"), str(seed))
        log.append(out.strip().splitlines()[-1] if out.strip() else "")
        return CPAModel(python, folder / "model", controls, set(train.obs["drug"].astype(str)))

    return factory


def run(python: str, seeds: list[int], workdir: Path) -> pd.DataFrame:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    controls = plate[plate.obs["is_control"].to_numpy(bool)].copy()
    print(
        f"plate: {int((~plate.obs['is_control']).sum())} treated profiles, {plate.obs['drug'].nunique() - 1} drugs, "
        f"{controls.n_obs} DMSO profiles (CPA's control group)",
        flush=True,
    )
    tables = []
    for seed in seeds:
        start, log = time.perf_counter(), []
        factory = cpa_factory(python, controls, seed, workdir, log)
        table = sctl.tl.evaluate_perturbation(
            plate, {"CPA": factory}, scheme="dose", n_folds=3, seed=seed, baselines=True, key_added=None
        )
        table.insert(0, "setting", SETTING)
        table["seed"] = seed
        tables.append(table)
        print(f"seed {seed}, {SETTING}, dose: {time.perf_counter() - start:.0f} s ({'; '.join(log)})", flush=True)
    return pd.concat(tables, ignore_index=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpa-python", default=os.environ.get("SCTL_CPA_PYTHON"), help="Python of cpa_env.sh")
    parser.add_argument("seeds", nargs="?", default="0-4")
    parser.add_argument("out", nargs="?", default=None, help="tidy CSV of every fold, model and metric")
    args = parser.parse_args(argv)
    try:
        versions = check_cpa(args.cpa_python)
        print(f"CPA environment {args.cpa_python}: cpa-tools, scvi-tools, torch = {versions}", flush=True)
        with tempfile.TemporaryDirectory(prefix="sctl_cpa_") as tmp:
            result = run(args.cpa_python, seeds_arg(args.seeds), Path(tmp))
    except CPAUnavailable as error:
        print(f"CPA not run: {error}")
        return 0
    if args.out:
        result.to_csv(args.out, index=False)
    summarise(result)
    cpa = result[(result["model"] == "CPA") & (result["metric"] == "seconds")]["value"]
    print(f"\nCPA fit time per fold: {cpa.mean():.0f} ± {cpa.std():.0f} s (one thread)")
    spread = np.array(SPREAD)
    print(
        f"Spread between held-out profiles (std over profiles, mean over genes): CPA's predictions "
        f"{spread[:, 0].mean():.3f}, observed changes {spread[:, 1].mean():.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
