"""Training and prediction speed of the bulk-to-single-cell models (PathwayTransfer, ATSDPNet) on one CPU thread.

Synthetic data: 1,000 bulk lines x 2,000 genes (one drug, 30 % / 30 % labelled) + 10,000 cells; 100 random gene
sets of 30 genes for PathwayTransfer's pathway decoder. Each model trains ``EPOCHS`` epochs per phase, early
stopping off; the time of every epoch is taken by a Lightning callback.

Prediction: ``model.predict`` on 100,000 cells x 2,000 genes (AnnData in, probabilities out: gene lookup,
per-gene z-scoring, batched forward) against a bare ``torch.no_grad`` forward, in the same batches of 4,096, of the
same layers the prediction uses (PathwayTransfer: shared encoder + classifier; ATSDPNet: cell encoder +
attention predictor) on a ready float32 tensor. Prints figures (seconds, cells/s, ratios), not verdicts.
Run: ``python benchmarks/transfer_speed.py``; ``--quick``: 300 lines + 2,000 cells, 1 epoch per phase, 20,000 cells
predicted (the same measurements on less data).
"""

import logging
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from lightning.pytorch.callbacks import Callback

import sctl
from sctl.models._transfer._data import standardize_matrix

N_LINES, N_CELLS, N_GENES, N_PREDICT, EPOCHS, BATCH = 1_000, 10_000, 2_000, 100_000, 2, 4096
if sys.argv[1:] == ["--quick"]:
    N_LINES, N_CELLS, N_PREDICT, EPOCHS = 300, 2_000, 20_000, 1
elif sys.argv[1:]:
    sys.exit(f"usage: python {sys.argv[0]} [--quick]")


class EpochTimer(Callback):
    """Wall time of every training epoch (validation included)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.times.append(time.perf_counter() - self._start)


def synthetic(rng: np.random.Generator) -> tuple[AnnData, AnnData, dict[str, list[str]]]:
    genes = [f"g{i}" for i in range(N_GENES)]
    weights = np.zeros(N_GENES)
    weights[:20] = 1.0
    x = rng.normal(size=(N_LINES, N_GENES)).astype(np.float32)
    bulk = AnnData(x, obs=pd.DataFrame(index=[f"line{i}" for i in range(N_LINES)]), var=pd.DataFrame(index=genes))
    bulk.obsm["ln_ic50"] = pd.DataFrame({"DrugA": -(x @ weights) + rng.normal(size=N_LINES)}, index=bulk.obs_names)
    cells = AnnData(
        (1.0 + 0.5 * rng.normal(size=(N_CELLS, N_GENES))).astype(np.float32),
        obs=pd.DataFrame(index=[f"cell{i}" for i in range(N_CELLS)]),
        var=pd.DataFrame(index=genes),
    )
    genesets = {f"set{j}": list(rng.choice(genes, size=30, replace=False)) for j in range(100)}
    return bulk, cells, genesets


def train(cls, data: AnnData, **model_kwargs) -> tuple[object, float, list[float], float]:
    start = time.perf_counter()
    cls.setup_anndata(data)
    setup = time.perf_counter() - start
    model = cls(data, **model_kwargs)
    timer = EpochTimer()
    start = time.perf_counter()
    model.train(
        max_epochs=EPOCHS, pretrain_epochs=EPOCHS, early_stopping=False, accelerator="cpu",
        enable_progress_bar=False, callbacks=[timer],
    )  # fmt: skip
    return model, setup, timer.times, time.perf_counter() - start


@torch.no_grad()
def bare_forward(net: torch.nn.Module, X: torch.Tensor) -> float:
    net.eval()
    start = time.perf_counter()
    for i in range(0, len(X), BATCH):
        net(X[i : i + BATCH])
    return time.perf_counter() - start


class _ATSDPCellPath(torch.nn.Module):
    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.encoder, self.predictor = module.encoders[-1], module.predictor  # the cells' encoder (or the shared one)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.encoder(x))


def main() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)
    bulk, cells, genesets = synthetic(rng)
    start = time.perf_counter()
    data = sctl.models.transfer_data(bulk, cells, "DrugA")
    print(
        f"data: {N_LINES} lines + {N_CELLS} cells x {N_GENES} genes; transfer_data {time.perf_counter() - start:.1f} s"
    )

    big = AnnData(
        (1.0 + 0.5 * rng.normal(size=(N_PREDICT, N_GENES))).astype(np.float32),
        var=pd.DataFrame(index=cells.var_names),
    )
    ready = torch.as_tensor(standardize_matrix(big.X))

    models = {
        "PathwayTransfer": (sctl.models.PathwayTransfer, {"genesets": genesets}, lambda m: torch.nn.Sequential(
            m.module.shared, m.module.classifier)),
        "ATSDPNet": (sctl.models.ATSDPNet, {}, lambda m: _ATSDPCellPath(m.module)),
    }  # fmt: skip
    for name, (cls, kwargs, cell_path) in models.items():
        model, setup, epochs, total = train(cls, data.copy(), **kwargs)
        per_phase = [np.mean(epochs[i * EPOCHS : (i + 1) * EPOCHS]) for i in range(len(epochs) // EPOCHS)]
        print(
            f"{name}: setup_anndata {setup:.1f} s; train {total:.1f} s for {len(epochs)} epochs "
            f"({EPOCHS} per phase); per epoch by phase: {', '.join(f'{t:.1f} s' for t in per_phase)}",
            flush=True,
        )
        start = time.perf_counter()
        proba = model.predict(big)
        t_predict = time.perf_counter() - start
        t_bare = bare_forward(cell_path(model), ready)
        assert proba.shape == (N_PREDICT,)
        print(
            f"{name}: predict {N_PREDICT:,} cells {t_predict:.1f} s = {N_PREDICT / t_predict:,.0f} cells/s; bare "
            f"forward {t_bare:.1f} s = {N_PREDICT / t_bare:,.0f} cells/s; predict / bare time = "
            f"{t_predict / t_bare:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
