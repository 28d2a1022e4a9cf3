"""CPA's side of benchmarks/cpa_perturbation.py, run by the Python of the CPA environment (``cpa_env.sh``).

A helper module (``sctl benchmark`` does not run it): it imports cpa-tools, which cannot live in sctl's
environment (cpa-tools 0.8.1 pins ``torch<2`` and ``scvi-tools<1``), so the benchmark calls it in a subprocess:

    python _cpa_worker.py fit train.h5ad model_dir seed
    python _cpa_worker.py predict model_dir query.h5ad predictions.npy

``fit``: ``train.h5ad`` holds expression profiles in ``X`` and ``obs`` columns ``drug`` (``"DMSO"`` for the
controls), ``dose`` (µM, 0 for DMSO), ``cell_line`` and ``split`` (``"train"`` or ``"valid"``: the profiles CPA's
early stopping and best-state checkpoint watch). CPA is set up with the drug as perturbation, DMSO as control group,
the cell line as covariate, a Gaussian likelihood, and saved to ``model_dir``.

``predict``: ``query.h5ad`` holds one row per (profile to predict, DMSO control profile): ``X`` is the control's
expression, ``obs`` the drug and dose to apply. CPA encodes the control, adds the embedding of the drug at that dose
and decodes (its counterfactual prediction); the predicted profiles are written as float32 rows in query order.
Python 3.9 (the CPA environment's).
"""

import json
import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

# CPA's autoencoder (CPAModule) and training plan (CPATrainingPlan), sized for ~260 profiles x 978 genes; the
# encoder/decoder sizes, warm-ups and adversary weights follow the cpa-tools tutorials (Sci-Plex, gauss loss).
MODULE = {
    "n_latent": 64,
    "recon_loss": "gauss",
    "doser_type": "logsigm",
    "n_hidden_encoder": 256,
    "n_layers_encoder": 2,
    "n_hidden_decoder": 256,
    "n_layers_decoder": 2,
    "use_batch_norm_encoder": True,
    "use_layer_norm_encoder": False,
    "use_batch_norm_decoder": False,
    "use_layer_norm_decoder": True,
    "dropout_rate_encoder": 0.0,
    "dropout_rate_decoder": 0.1,
    "variational": False,
}
PLAN = {
    "n_epochs_pretrain_ae": 30,
    "n_epochs_adv_warmup": 50,
    "n_epochs_mixup_warmup": 0,
    "mixup_alpha": 0.0,
    "adv_steps": None,
    "n_hidden_adv": 64,
    "n_layers_adv": 3,
    "use_batch_norm_adv": True,
    "use_layer_norm_adv": False,
    "dropout_rate_adv": 0.3,
    "reg_adv": 20.0,
    "pen_adv": 5.0,
    "lr": 3e-4,
    "wd": 4e-7,
    "adv_lr": 3e-4,
    "adv_wd": 4e-7,
    "adv_loss": "cce",
    "doser_lr": 3e-4,
    "doser_wd": 4e-7,
    "do_clip_grad": True,
    "gradient_clip_value": 1.0,
    "step_size_lr": 45,
    "n_epochs_verbose": 10_000,  # no per-epoch printout
}
TRAIN = {"max_epochs": 400, "batch_size": 32, "check_val_every_n_epoch": 5, "early_stopping_patience": 10}
# $SCTL_CPA_CONFIG: JSON {"module": {...}, "plan": {...}, "train": {...}} overriding the settings above
_OVERRIDE = json.loads(os.environ.get("SCTL_CPA_CONFIG") or "{}")
MODULE.update(_OVERRIDE.get("module", {}))
PLAN.update(_OVERRIDE.get("plan", {}))
TRAIN.update(_OVERRIDE.get("train", {}))


def _quiet() -> None:
    import logging

    for name in ("pytorch_lightning", "lightning", "scvi", "cpa"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _setup(cpa, adata) -> None:
    adata.obs["cpa_dose"] = adata.obs["dose"].astype(float)
    cpa.CPA.setup_anndata(
        adata,
        perturbation_key="drug",
        control_group="DMSO",
        dosage_key="cpa_dose",
        categorical_covariate_keys=["cell_line"],
        smiles_key="smiles",
        is_count_data=False,
        max_comb_len=1,
    )


def fit(train_path: str, model_dir: str, seed: int) -> None:
    import anndata
    import cpa
    import scvi

    _quiet()
    scvi.settings.seed = seed
    adata = anndata.read_h5ad(train_path)
    adata.obs["smiles"] = ""  # CPA looks a SMILES up per drug even without rdkit embeddings
    _setup(cpa, adata)
    model = cpa.CPA(
        adata, split_key="split", train_split="train", valid_split="valid", test_split="ood", seed=seed, **MODULE
    )
    batch_size = TRAIN["batch_size"]
    while (adata.obs["split"] == "train").sum() % batch_size in (1, 2):  # batch norm needs > 1 profile per batch
        batch_size += 1
    model.train(
        max_epochs=TRAIN["max_epochs"],
        use_gpu=False,
        batch_size=batch_size,
        plan_kwargs=PLAN,
        save_path=False,
        check_val_every_n_epoch=TRAIN["check_val_every_n_epoch"],
        early_stopping_patience=TRAIN["early_stopping_patience"],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model.save(model_dir, overwrite=True)
    history = model.epoch_history
    epochs = int(history["epoch"].max()) + 1 if history is not None and "epoch" in history else -1
    valid = history[history["mode"] == "valid"] if history is not None and "mode" in history else None
    r2 = f", last validation r2_mean {valid['r2_mean'].iloc[-1]:.3f}" if valid is not None and len(valid) else ""
    print(f"CPA trained: {epochs} epochs, batch {batch_size}{r2}", flush=True)


def predict(model_dir: str, query_path: str, out_path: str) -> None:
    import anndata
    import cpa

    _quiet()
    query = anndata.read_h5ad(query_path)
    query.obs["smiles"] = ""
    query.obs["split"] = "ood"
    query.obs["cpa_dose"] = query.obs["dose"].astype(float)
    model = cpa.CPA.load(model_dir, adata=query, use_gpu=False)
    model.predict(query, batch_size=256)
    np.save(out_path, np.asarray(query.obsm["CPA_pred"], dtype=np.float32))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "fit":
        fit(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "predict":
        predict(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown command {command!r}: use fit or predict")
