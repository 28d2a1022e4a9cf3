"""Write the saved-model fixtures of ``tests/models/test_saved_formats.py``: tiny trained models and their predictions.

Usage::

    python scripts/write_saved_fixtures.py [--out tests/models/data/saved_v<FORMAT_VERSION>]

For each of GRIP, SeqPerturb, PathwayTransfer, ATSDPNet and PerturbationEnsemble it trains a tiny model (tens of
genes, a few epochs, a few hidden units) on sctl's shipped data and writes, under ``<out>/<Class>/``,

``model/``
    the directory written by the model's ``save`` (``model.json`` + ``model_state.pt``);
``input.h5ad``
    the few observations the test predicts (a slice of the training data, only the columns ``predict`` reads);
``expected.csv``
    the model's predictions for ``input.h5ad`` at the time of writing.

The committed ``saved_v1`` files were written by the save code of sctl 0.2.0 (before the models shared one
save / load); the test checks that every later sctl loads them and predicts the same numbers. Write a new
directory only when ``FORMAT_VERSION`` changes, and keep the old ones.
"""

from __future__ import annotations

import argparse
import shutil
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

import sctl
from sctl._validate import to_dense
from sctl.models import GRIP, ATSDPNet, PathwayTransfer, PerturbationEnsemble, SeqPerturb, transfer_data
from sctl.models._io import FORMAT_VERSION
from sctl.models._perturbation_ensemble import train_named_model

REPO = Path(__file__).resolve().parents[1]
TRAIN = {"accelerator": "cpu", "enable_progress_bar": False}
N_GENES = 30  # genes of the perturbation fixtures
N_LANDMARKS = 60  # genes of the transfer fixtures
N_INPUT = 20  # observations predicted
DRUG = "Dabrafenib"


def perturbation_plate() -> ad.AnnData:
    """Treated L1000 profiles x ``N_GENES`` genes with their basal profiles and changes."""
    plate = sctl.datasets.lincs()[:, :N_GENES].copy()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    treated.obs = treated.obs[["drug", "dose", "cell_line", "pert_id"]].copy()
    return treated


def perturbation_input(treated: ad.AnnData) -> ad.AnnData:
    """Every ``k``-th treated profile, with the basal layer and the condition columns only."""
    rows = np.linspace(0, treated.n_obs - 1, N_INPUT).astype(int)
    picked = treated[rows]
    obs = picked.obs.copy()
    for key in ("drug", "cell_line", "pert_id"):
        obs[key] = obs[key].astype(str)
    layers = {"sctl_basal": np.asarray(picked.layers["sctl_basal"], dtype=np.float32)}
    return ad.AnnData(np.asarray(picked.X, dtype=np.float32), obs=obs, var=picked.var[[]].copy(), layers=layers)


def transfer_inputs() -> tuple[ad.AnnData, ad.AnnData]:
    """The joined data to train on (80 lines and 60 cells x ``N_LANDMARKS`` genes) and the cells to predict."""
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.tumor(DRUG, n_cells=60, seed=0)
    bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])]
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()][:N_LANDMARKS]
    bulk = bulk[:80, genes].copy()
    data = transfer_data(bulk, cells, DRUG, min_shared=N_LANDMARKS)
    predict_on = ad.AnnData(
        to_dense(cells[:, data.var_names].X, np.float32),
        obs=pd.DataFrame(index=cells.obs_names.copy()),
        var=pd.DataFrame(index=data.var_names.copy()),
    )
    return data, predict_on


def write(out: Path, name: str, model, inputs: ad.AnnData, expected: pd.DataFrame) -> None:
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save(folder / "model")
    inputs.write_h5ad(folder / "input.h5ad", compression="gzip")
    expected.to_csv(folder / "expected.csv", float_format="%.9g")
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{name}: {expected.shape} predictions, {size / 1024:.0f} KiB")


def grip(out: Path) -> None:
    treated = perturbation_plate()
    GRIP.setup_anndata(treated, dose_key="dose")
    model = GRIP(treated, n_hidden=8, n_embed=4, n_disc_hidden=8)
    model.train(max_epochs=3, **TRAIN)
    inputs = perturbation_input(treated)
    write(out, "GRIP", model, inputs, model.predict(inputs))


def tiny_seqperturb(treated: ad.AnnData, seed: int = 0, **setup) -> SeqPerturb:
    """SeqPerturb with the smallest encoder (an LSTM of 16 units) and 8 dense units, trained 3 epochs."""
    SeqPerturb.setup_anndata(treated, compound_id_key=None, smiles_key=None, dose_key="dose", **setup)
    model = SeqPerturb(treated, encoder="lstm", n_embed=4, n_dense=8, seed=seed)
    model.train(max_epochs=3, batch_size=64, seed=seed, **TRAIN)
    return model


def seqperturb(out: Path) -> None:
    treated = perturbation_plate()
    model = tiny_seqperturb(treated)
    inputs = perturbation_input(treated)
    write(out, "SeqPerturb", model, inputs, model.predict(inputs))


def ensemble(out: Path) -> None:
    """Two tiny SeqPerturb seeds and the ridge baseline (``fit`` would train full-size members: too large here)."""
    treated = perturbation_plate()
    model = PerturbationEnsemble(members=("SeqPerturb", "ridge"), n_seeds=2)
    keys = model._keys()
    model.models_ = {
        "SeqPerturb": [tiny_seqperturb(treated.copy(), seed=k, layer=keys["delta_layer"]) for k in range(2)],
        "ridge": [train_named_model("ridge", treated, **keys)],
    }
    inputs = perturbation_input(treated)
    write(out, "PerturbationEnsemble", model, inputs, model.predict(inputs))


def pathway_transfer(out: Path) -> None:
    data, cells = transfer_inputs()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data, min_genes=6, max_genes=30, n_extra=2, n_hidden=8)
    model.train(max_epochs=2, **TRAIN)
    expected = pd.DataFrame({"sensitive": model.predict(cells)}, index=cells.obs_names)
    write(out, "PathwayTransfer", model, cells, expected)


def atsdp(out: Path) -> None:
    data, cells = transfer_inputs()
    ATSDPNet.setup_anndata(data, cluster_key=False)
    model = ATSDPNet(data, n_latent=4, encoder_dims=(8,), predictor_dims=(4,), n_heads=2, n_tokens=2, token_dim=4)
    model.train(max_epochs=2, **TRAIN)
    expected = pd.DataFrame({"sensitive": model.predict(cells)}, index=cells.obs_names)
    write(out, "ATSDPNet", model, cells, expected)


WRITERS = {
    "GRIP": grip,
    "SeqPerturb": seqperturb,
    "PerturbationEnsemble": ensemble,
    "PathwayTransfer": pathway_transfer,
    "ATSDPNet": atsdp,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "models" / "data" / f"saved_v{FORMAT_VERSION}")
    parser.add_argument("--only", nargs="*", choices=list(WRITERS), help="write only these classes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # Lightning's advice on workers and logging; nothing about the fixtures
    for name in args.only or WRITERS:
        WRITERS[name](args.out)


if __name__ == "__main__":
    main()
