"""Training and prediction speed of GRIP, SeqPerturb and CSG²A on the L1000 plate, and CSG²A's cost in the gene count.

Usage: python benchmarks/perturbation_speed.py [epochs] [n_predict]  |  --genes-only

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

Part 2, CSG²A in the number of genes (978, 2,000, 5,000), synthetic data: 256 random basal / perturbed profiles,
one drug, a random PPI graph of ~10 neighbours per gene (so the edges grow linearly with the genes) through
``sctl.pp.ppi_adjacency``. Three configurations, each in its own process (``--csg2a-child``) so that its peak memory
is its own: the prior as a dense genes x genes matrix (``prior="dense"``, before), as an edge list
(``prior="sparse"``, now the default), and the edge list with attention restricted to the PPI edges
(``attention="ppi"``). Per configuration: time of one training epoch (8 Adam steps of 32, best of 5), peak
resident memory above the process's state before the model was built (model, Adam state and activations of
the epoch), the time of the PPI part alone (``A_PPI g0``, forward + backward, batch 32) and of the whole attention
layer, and ``get_attention`` on 4 profiles (builds the genes x genes map, quadratic by nature). Times in part 2
are CPU seconds of the process (one torch thread), which other jobs on a shared machine do not inflate;
``prior MB`` is the memory of the prior (matrix, or edge list with its CSR indices). The scaling exponent is the
least-squares slope of log value on log genes. ``--genes-only`` runs part 2 alone.
Prints figures, not verdicts. Run: ``python benchmarks/perturbation_speed.py``.
"""

import json
import logging
import resource
import subprocess
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
CHILD = sys.argv[1:2] == ["--csg2a-child"]  # one configuration of part 2, run in its own process
GENES_ONLY = sys.argv[1:2] == ["--genes-only"]  # part 2 only
ARGS = [] if CHILD or GENES_ONLY else sys.argv[1:]
EPOCHS = int(ARGS[0]) if len(ARGS) > 0 else 10
N_PREDICT = int(ARGS[1]) if len(ARGS) > 1 else 20_000
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


def cpu_timed(fn) -> float:
    """CPU seconds of this process (one torch thread): not inflated when other jobs share the cores."""
    start = time.process_time()
    fn()
    return time.process_time() - start


# ------------------------------------------------------------------ part 1: the L1000 plate
def plate_speed() -> None:
    rows = []
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    treated = plate[~plate.obs["is_control"].to_numpy(bool)].copy()
    treated.obs["drug"] = treated.obs["drug"].astype(str).astype("category")

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
    model.train(max_epochs=EPOCHS, callbacks=[timer], enable_progress_bar=False)
    big = tiled(grip_data, N_PREDICT)
    report("GRIP", grip_data.n_obs, timer.times[1:], timer.times[0], big.n_obs, timed(lambda: model.predict(big)))

    # SeqPerturb
    seq_data = treated.copy()
    SeqPerturb.setup_anndata(seq_data, layer="sctl_delta", dose_key="dose")
    model = SeqPerturb(seq_data)
    timer = EpochTimer()
    model.train(max_epochs=EPOCHS, batch_size=64, lr=3e-3, callbacks=[timer], enable_progress_bar=False)
    big = tiled(seq_data, N_PREDICT)
    report("SeqPerturb", seq_data.n_obs, timer.times[1:], timer.times[0], big.n_obs, timed(lambda: model.predict(big)))

    # CSG2A
    drug_table = sctl.datasets.gdsc().uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(drug_table["lincs_name"], drug_table["smiles"], strict=True))
    csg_data = treated[treated.obs["drug"].astype(str).isin(smiles)].copy()
    CSG2A.setup_anndata(csg_data, drug_key="drug", smiles=smiles)
    model = CSG2A(csg_data, ppi=sctl.datasets.ppi())
    first = timed(lambda: model.train(max_epochs=1, enable_progress_bar=False))
    total = timed(lambda: model.train(max_epochs=EPOCHS, enable_progress_bar=False))
    big = tiled(csg_data, N_PREDICT)
    report("CSG2A", csg_data.n_obs, [total / EPOCHS], first, big.n_obs, timed(lambda: model.predict(big)))
    print("\nL1000 plate (978 genes), one thread:")
    print(pd.DataFrame(rows).round(4).to_string(index=False), flush=True)


# ------------------------------------------------------------------ part 2: CSG2A in the number of genes
ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
CONFIGS = {  # name: (prior, attention)
    "dense prior": ("dense", "full"),
    "sparse prior": ("sparse", "full"),
    "sparse + ppi attention": ("sparse", "ppi"),
}
N_OBS, BATCH, DEGREE, N_ATT, REPEATS = 256, 32, 10, 4, 5


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def reset_peak_rss() -> None:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5).

    ``getrusage().ru_maxrss`` cannot be used: Linux carries it across ``fork`` + ``execve``, so a child started by a
    large parent reports the parent's high-water mark.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    """VmHWM of this process (peak resident memory since start or the last :func:`reset_peak_rss`)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def gene_scaling(n_genes: int, config: str) -> dict[str, float]:
    """One configuration in a fresh process: peak memory is the process high-water mark above its start."""
    prior, attention = CONFIGS[config]
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(n_genes)]
    basal = rng.normal(size=(N_OBS, n_genes)).astype(np.float32)
    syn = ad.AnnData(
        basal + 0.3 * rng.normal(size=basal.shape).astype(np.float32),
        obs=pd.DataFrame({"drug": "aspirin", "dose": 10.0, "time": 24.0}, index=[f"p{i}" for i in range(N_OBS)]),
        var=pd.DataFrame(index=genes),
        layers={"sctl_basal": basal},
    )
    pairs = rng.integers(0, n_genes, size=(DEGREE * n_genes // 2, 2))  # ~DEGREE neighbours per gene
    edges = pd.DataFrame({"source": np.asarray(genes)[pairs[:, 0]], "target": np.asarray(genes)[pairs[:, 1]]})
    CSG2A.setup_anndata(syn, drug_key="drug", smiles={"aspirin": ASPIRIN})
    reset_peak_rss()
    start_mb = current_rss_mb()
    model = CSG2A(syn, ppi=edges, prior=prior, attention=attention)
    layer = model.module.attention
    model.train(max_epochs=1, batch_size=BATCH, enable_progress_bar=False)  # warm-up (allocates Adam's state)
    epoch = min(
        cpu_timed(lambda: model.train(max_epochs=1, batch_size=BATCH, enable_progress_bar=False))
        for _ in range(REPEATS)
    )
    peak_mb = peak_rss_mb() - start_mb

    x = torch.as_tensor(basal[:BATCH]).requires_grad_(True)

    grad = torch.randn(BATCH, n_genes)

    def prior_step():  # the PPI part alone: A_PPI g0, forward and backward
        torch.autograd.grad(layer.prior_product(x), x, grad)

    def layer_step():  # the whole attention layer (scores + prior), forward and backward
        torch.autograd.grad(layer(x, x.detach()), x, grad)

    prior_step(), layer_step()
    prior_ms = 1e3 * min(cpu_timed(prior_step) for _ in range(4 * REPEATS))  # milliseconds: more repeats, least noise
    layer_ms = 1e3 * min(cpu_timed(layer_step) for _ in range(4 * REPEATS))
    attention_ms = 1e3 * cpu_timed(
        lambda: model.get_attention(syn[:N_ATT], smiles=ASPIRIN, dose=10.0, time=24.0, batch_size=N_ATT)
    )
    prior_mb = sum(b.numel() * b.element_size() for n, b in layer.named_buffers() if "attention" not in n)
    return {
        "genes": n_genes,
        "config": config,
        "prior entries": layer.n_edges,
        "prior MB": prior_mb / 2**20,
        "s/epoch": epoch,
        "peak MB": peak_mb,
        f"PPI part ms (fwd+bwd, batch {BATCH})": prior_ms,
        f"attention layer ms (fwd+bwd, batch {BATCH})": layer_ms,
        f"get_attention ms ({N_ATT} profiles)": attention_ms,
    }


if CHILD:
    print(json.dumps(gene_scaling(int(sys.argv[2]), sys.argv[3])), flush=True)
    sys.exit(0)
if not GENES_ONLY:
    plate_speed()

scaling = []
for n_genes in (978, 2_000, 5_000):
    for config in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--csg2a-child", str(n_genes), config],
            capture_output=True,
            text=True,
            check=True,
        )
        scaling.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(pd.DataFrame(scaling[-1:]).round(2).to_string(index=False), flush=True)

table = pd.DataFrame(scaling).set_index(["config", "genes"]).sort_index()
print(
    f"\nCSG2A in the number of genes (synthetic: {N_OBS} profiles, random PPI with ~{DEGREE} neighbours per gene, "
    f"one thread; an epoch = {N_OBS // BATCH} Adam steps of {BATCH}; peak MB = process high-water mark above its "
    "state before the model was built):"
)
print(table.round(2).to_string())
rows = []
for config, part in table.groupby(level="config", sort=False):
    logs = np.log(part.index.get_level_values("genes").to_numpy(float))
    rows.append(
        {"config": config, **{col: np.polyfit(logs, np.log(part[col].to_numpy(float)), 1)[0] for col in part.columns}}
    )
print("\nscaling exponent (least-squares slope of log value on log genes):")
print(pd.DataFrame(rows).set_index("config").round(2).to_string())
