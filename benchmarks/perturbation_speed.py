"""Training and prediction speed of GRIP, SeqPerturb and CSG²A on the L1000 plate, and CSG²A's cost in the gene count.

Usage: python benchmarks/perturbation_speed.py [epochs] [n_predict]

Part 1, the real plate (``sctl.datasets.lincs()``, A375 24 h, 978 landmark genes, after ``sctl.pp.match_controls``
and ``sctl.pp.log_fold_change``), default settings of each model, one torch thread:

* GRIP (basal -> treated, dose as a condition) and SeqPerturb (condition tokens -> Δx) train on every treated
  profile; the time of each epoch is taken by a Lightning callback (the first epoch is reported apart: it holds
  the warm-up);
* CSG²A trains on the treated profiles of the plate drugs that have a SMILES in the GDSC drug table (it embeds
  drugs from their SMILES), with the PPI prior; its own loop has no callback, so an epoch is the total time over
  the epochs. Profiles per epoch differ between the models; ``train profiles/s`` makes them comparable.
* Prediction: ``model.predict`` on the training profiles tiled to ``n_predict`` rows (default 20,000), timed
  end to end (AnnData in, DataFrame out).

Part 2, CSG²A on synthetic data (random basal / perturbed profiles, one drug, no PPI prior) with 978, 2,000 and
5,000 genes: time of one no-grad forward of a batch of 32 profiles through the module (and of its factorised
GeneGeneAttention layer alone: the rest includes the dense genes x genes output layer), of one training step
(forward + backward, batch 32), and of ``get_attention`` on 4 profiles (which builds the dense
genes x genes map). The scaling exponent is the least-squares slope of log time on log genes.
Prints figures, not verdicts. Run: ``python benchmarks/perturbation_speed.py``.
"""

import logging
import sys
import time
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

import sctl
from sctl.models import CSG2A, GRIP, SeqPerturb

torch.set_num_threads(1)
warnings.filterwarnings("ignore")
logging.getLogger("lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
N_PREDICT = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
pd.set_option("display.width", 200)


class EpochTimer(Callback):
    """Wall time of every training epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.times.append(time.perf_counter() - self._start)


def tiled(adata: ad.AnnData, n: int) -> ad.AnnData:
    reps = -(-n // adata.n_obs)
    big = ad.concat([adata] * reps, merge="same")[:n].copy()
    big.obs_names_make_unique()
    return big


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------ part 1: the L1000 plate
plate = sctl.datasets.lincs()
sctl.pp.match_controls(plate, control="DMSO")
sctl.pp.log_fold_change(plate)
treated = plate[~plate.obs["is_control"].to_numpy(bool)].copy()
treated.obs["drug"] = treated.obs["drug"].astype(str).astype("category")
rows = []


def report(name: str, n_train: int, epoch_times: list[float], first: float | None, n_pred: int, pred_s: float):
    per_epoch = float(np.mean(epoch_times))
    rows.append(
        {
            "model": name,
            "train profiles": n_train,
            "epochs": EPOCHS,
            "first epoch s": first,
            "s/epoch": per_epoch,
            "train profiles/s": n_train / per_epoch,
            "predict n": n_pred,
            "predict s": pred_s,
            "predict profiles/s": n_pred / pred_s,
        }
    )
    print(pd.DataFrame(rows[-1:]).round(4).to_string(index=False), flush=True)


# GRIP
grip_data = treated.copy()
GRIP.setup_anndata(grip_data, dose_key="dose")
model = GRIP(grip_data)
timer = EpochTimer()
model.train(max_epochs=EPOCHS, callbacks=[timer])
big = tiled(grip_data, N_PREDICT)
report("GRIP", grip_data.n_obs, timer.times[1:], timer.times[0], big.n_obs, timed(lambda: model.predict(big)))

# SeqPerturb
seq_data = treated.copy()
SeqPerturb.setup_anndata(seq_data, layer="sctl_delta", dose_key="dose")
model = SeqPerturb(seq_data)
timer = EpochTimer()
model.train(max_epochs=EPOCHS, batch_size=64, lr=3e-3, callbacks=[timer])
big = tiled(seq_data, N_PREDICT)
report("SeqPerturb", seq_data.n_obs, timer.times[1:], timer.times[0], big.n_obs, timed(lambda: model.predict(big)))

# CSG2A
drug_table = sctl.datasets.gdsc().uns["sctl_drugs"].dropna(subset=["lincs_name"])
smiles = dict(zip(drug_table["lincs_name"], drug_table["smiles"], strict=True))
csg_data = treated[treated.obs["drug"].astype(str).isin(smiles)].copy()
CSG2A.setup_anndata(csg_data, drug_key="drug", smiles=smiles)
model = CSG2A(csg_data, ppi=sctl.datasets.ppi())
first = timed(lambda: model.train(max_epochs=1))
total = timed(lambda: model.train(max_epochs=EPOCHS))
big = tiled(csg_data, N_PREDICT)
report("CSG2A", csg_data.n_obs, [total / EPOCHS], first, big.n_obs, timed(lambda: model.predict(big)))
print("\nL1000 plate (978 genes), one thread:")
print(pd.DataFrame(rows).round(4).to_string(index=False), flush=True)

# ------------------------------------------------------------------ part 2: CSG2A in the number of genes
rng = np.random.default_rng(0)
ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
BATCH, N_ATT, REPEATS = 32, 4, 5


def gene_scaling(n_genes: int) -> dict[str, float]:
    n_obs = 64
    genes = [f"g{i}" for i in range(n_genes)]
    basal = rng.normal(size=(n_obs, n_genes)).astype(np.float32)
    syn = ad.AnnData(
        basal + 0.3 * rng.normal(size=basal.shape).astype(np.float32),
        obs=pd.DataFrame(
            {"drug": ["aspirin"] * n_obs, "dose": 10.0, "time": 24.0}, index=[f"p{i}" for i in range(n_obs)]
        ),
        var=pd.DataFrame(index=genes),
        layers={"sctl_basal": basal},
    )
    CSG2A.setup_anndata(syn, drug_key="drug", smiles={"aspirin": ASPIRIN})
    model = CSG2A(syn).train(max_epochs=1)  # fits the input scaling
    module = model.module
    x = torch.as_tensor(basal[:BATCH])
    features = sctl.models.csg2a._data.featurize({"aspirin": ASPIRIN}, model.init_params_["n_bits"]).expand(BATCH, -1)
    dose, tim = torch.full((BATCH,), 10.0), torch.full((BATCH,), 24.0)
    module.eval()
    with torch.no_grad():
        module(x, features, dose, tim)  # warm-up
        forward = min(timed(lambda: module(x, features, dose, tim)) for _ in range(REPEATS))
        condition = module.encoder(features, dose, tim)
        layer = min(timed(lambda: module.attention(x, condition)) for _ in range(REPEATS))
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]

    def step():
        loss = module(x, features, dose, tim)["predicted"].pow(2).mean()
        torch.autograd.grad(loss, params)

    step()
    train_step = min(timed(step) for _ in range(REPEATS))
    attention = min(
        timed(lambda: model.get_attention(syn[:N_ATT], smiles=ASPIRIN, dose=10.0, time=24.0, batch_size=N_ATT))
        for _ in range(2)
    )
    return {
        "genes": n_genes,
        f"forward ms (batch {BATCH})": 1e3 * forward,
        "of which attention layer ms": 1e3 * layer,
        f"train step ms (batch {BATCH})": 1e3 * train_step,
        f"get_attention ms ({N_ATT} profiles)": 1e3 * attention,
    }


scaling = []
for n_genes in (978, 2_000, 5_000):
    scaling.append(gene_scaling(n_genes))
    print(pd.DataFrame(scaling[-1:]).round(2).to_string(index=False), flush=True)

table = pd.DataFrame(scaling).set_index("genes")
print("\nCSG2A in the number of genes (synthetic, one thread, best of repeats):")
print(table.round(2).to_string())
logs = np.log(table.index.to_numpy(float))
exponents = {col: np.polyfit(logs, np.log(table[col].to_numpy()), 1)[0] for col in table.columns}
print("scaling exponent (slope of log time on log genes): " + ", ".join(f"{k}: {v:.2f}" for k, v in exponents.items()))
