"""Peak memory of ``TransferModel.predict`` on a 200,000-cell backed .h5ad against the same file loaded whole.

Synthetic, seeded data: a 200,000 cells x 2,000 genes CSR .h5ad (about 10 % non-zeros, log-normal-like values),
written to a temporary folder ``WRITE_CHUNK`` rows at a time (the writer never holds the whole matrix); a tiny
PathwayTransfer (1 epoch per phase) trained on 300 bulk lines + 2,000 cells over the same genes, saved to disk.

Each measurement runs in its own fresh Python process, which loads the saved model and reports its peak resident
set size (``VmHWM`` of ``/proc/self/status``; not ``ru_maxrss``, which a child inherits from its parent on Linux):

* ``baseline``: imports and model loading only (the floor every mode pays: torch, scvi-tools, ...);
* ``backed``: ``anndata.read_h5ad(path, backed="r")`` then ``model.predict`` (streamed, two passes);
* ``memory``: ``anndata.read_h5ad(path)`` (the whole sparse matrix in memory) then ``model.predict``;
* ``whole``: for reference, the path ``predict`` took before it streamed, on the loaded file: densify all of X,
  z-score it whole (:func:`~sctl.models._transfer._data.standardize_matrix`), then the forward in batches.

Prints peak RSS, the increment over ``baseline``, the size of X as a dense float32 array, the ratios
(backed / in-memory, backed / dense X size) and the throughput (cells/s of ``predict``). Figures, not verdicts.
Run: ``python benchmarks/transfer_memory.py [--n-cells 200000] [--quick]`` (one CPU thread); ``--quick``: 20,000
cells.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import anndata as ad  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import sparse  # noqa: E402

N_CELLS, N_GENES, DENSITY, WRITE_CHUNK = 200_000, 2_000, 0.10, 10_000
N_LINES, N_TRAIN_CELLS, CHUNK = 300, 2_000, 4096
GENES = [f"g{i}" for i in range(N_GENES)]


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "scvi"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _sparse_block(rng: np.random.Generator, n_rows: int) -> sparse.csr_matrix:
    """Rows of log-normalised-looking expression: ``DENSITY`` non-zeros, positive values."""
    block = sparse.random(n_rows, N_GENES, density=DENSITY, format="csr", dtype=np.float32, random_state=rng)
    block.data = np.log1p(rng.gamma(2.0, 1.5, size=block.nnz)).astype(np.float32)
    return block


def write_cells(path: Path, seed: int = 0) -> None:
    """Write the ``N_CELLS`` x ``N_GENES`` CSR .h5ad block by block (``WRITE_CHUNK`` rows in memory at once)."""
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(index=pd.Index([f"cell{i}" for i in range(N_CELLS)]))
    var = pd.DataFrame(index=pd.Index(GENES))
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        ad.io.write_elem(f, "obs", obs)
        ad.io.write_elem(f, "var", var)
        for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
            ad.io.write_elem(f, key, {})
        ad.io.write_elem(f, "X", _sparse_block(rng, min(WRITE_CHUNK, N_CELLS)))  # written resizable: appendable
        X = ad.io.sparse_dataset(f["X"])
        for start in range(WRITE_CHUNK, N_CELLS, WRITE_CHUNK):
            X.append(_sparse_block(rng, min(WRITE_CHUNK, N_CELLS - start)))


def train_model(folder: Path, seed: int = 0) -> Path:
    """Train a tiny PathwayTransfer on synthetic bulk + cells over ``GENES`` and save it."""
    import sctl

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_LINES, N_GENES)).astype(np.float32)
    bulk = ad.AnnData(x, obs=pd.DataFrame(index=[f"line{i}" for i in range(N_LINES)]), var=pd.DataFrame(index=GENES))
    signal = -x[:, :20].sum(axis=1) + rng.normal(size=N_LINES)
    bulk.obsm["ln_ic50"] = pd.DataFrame({"DrugA": signal}, index=bulk.obs_names)
    cells = ad.AnnData(_sparse_block(rng, N_TRAIN_CELLS).toarray(), var=pd.DataFrame(index=GENES))
    cells.obs_names = [f"train_cell{i}" for i in range(N_TRAIN_CELLS)]
    genesets = {f"set{j}": list(rng.choice(GENES, size=30, replace=False)) for j in range(50)}
    model = sctl.models.PathwayTransfer.from_reference(
        bulk,
        cells,
        "DrugA",
        genesets=genesets,
        train_kwargs={"max_epochs": 1, "accelerator": "cpu", "early_stopping": False, "enable_progress_bar": False},
    )
    model.save(folder / "model", overwrite=True)
    return folder / "model"


def child(mode: str, h5ad: str, model_dir: str, out: str) -> None:
    """Run one measurement in this (fresh) process and write its figures as JSON to ``out``."""
    import torch

    import sctl

    torch.set_num_threads(1)
    _quiet()
    model = sctl.models.PathwayTransfer.load(model_dir)
    result: dict[str, float] = {}
    if mode != "baseline":
        start = time.perf_counter()
        cells = ad.read_h5ad(h5ad, backed="r") if mode == "backed" else ad.read_h5ad(h5ad)
        result["read_s"] = time.perf_counter() - start
        start = time.perf_counter()
        proba = _whole_matrix_predict(model, cells) if mode == "whole" else model.predict(cells, chunk_size=CHUNK)
        result["predict_s"] = time.perf_counter() - start
        np.save(Path(out).with_suffix(".npy"), proba)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(out).write_text(json.dumps(result))


def _whole_matrix_predict(model, cells: ad.AnnData) -> np.ndarray:
    """The former, non-streaming ``predict``: the whole matrix densified and standardised at once."""
    import torch

    from sctl._validate import to_dense
    from sctl.models._transfer._data import standardize_matrix

    X = standardize_matrix(to_dense(cells.X[:, cells.var_names.get_indexer(model.var_names)], np.float32))
    domain = np.ones(len(X), dtype=np.float32)
    proba = model._batched(lambda x, d: torch.sigmoid(model.module.predict_logits(x, d)), X, domain, CHUNK)
    return proba.astype(np.float64)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: ``VmHWM`` of ``/proc/self/status``.

    Not ``ru_maxrss``: on Linux it survives ``fork`` + ``exec``, so a child started by a parent holding more memory
    reports the parent's resident size at the fork (the parent here has trained a model) instead of its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere (kilobytes on Linux)


def measure(mode: str, h5ad: Path, model_dir: Path, folder: Path) -> dict[str, float]:
    """Run :func:`child` in a separate Python process and return its figures."""
    out = folder / f"{mode}.json"
    cmd = [sys.executable, __file__, "--child", mode, str(h5ad), str(model_dir), str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def main() -> None:
    import argparse

    global N_CELLS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=N_CELLS, help="cells of the backed file")
    parser.add_argument("--quick", action="store_true", help="reduced setting: 20,000 cells")
    if "--quick" in sys.argv:
        parser.set_defaults(n_cells=20_000)
    N_CELLS = parser.parse_args().n_cells
    _quiet()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        h5ad = folder / "cells.h5ad"
        start = time.perf_counter()
        write_cells(h5ad)
        size_mb = h5ad.stat().st_size / 2**20
        print(f"wrote {N_CELLS:,} x {N_GENES:,} CSR .h5ad ({size_mb:,.0f} MB) in {time.perf_counter() - start:.1f} s")
        model_dir = train_model(folder)
        runs = {mode: measure(mode, h5ad, model_dir, folder) for mode in ("baseline", "backed", "memory", "whole")}
        report(runs, folder)


def report(runs: dict[str, dict[str, float]], folder: Path) -> None:
    """Print the peak RSS of each mode, the ratios and the throughput."""
    dense_mb = N_CELLS * N_GENES * 4 / 2**20
    floor = runs["baseline"]["peak_rss_mb"]
    for mode, run in runs.items():
        line = f"{mode:>8}: peak RSS {run['peak_rss_mb']:,.0f} MB (+{run['peak_rss_mb'] - floor:,.0f} MB over baseline)"
        if "predict_s" in run:
            line += (
                f"; read {run['read_s']:.1f} s; predict {run['predict_s']:.1f} s = "
                f"{N_CELLS / run['predict_s']:,.0f} cells/s"
            )
        print(line)
    backed, memory = runs["backed"]["peak_rss_mb"], runs["memory"]["peak_rss_mb"]
    print(f"dense float32 X: {dense_mb:,.0f} MB")
    print(
        f"backed / in-memory peak RSS = {backed / memory:.3f} (increments over baseline: "
        f"{(backed - floor) / (memory - floor):.3f})"
    )
    print(f"backed / dense X size = {backed / dense_mb:.3f} (increment: {(backed - floor) / dense_mb:.3f})")
    diff = np.abs(np.load(folder / "backed.npy") - np.load(folder / "memory.npy")).max()
    print(f"max |backed - in-memory| probability difference: {diff:.2e}")
    whole = runs["whole"]["peak_rss_mb"]
    print(
        f"backed / whole-matrix (former) peak RSS = {backed / whole:.3f} "
        f"(increments: {(backed - floor) / (whole - floor):.3f})"
    )
    diff = np.abs(np.load(folder / "backed.npy") - np.load(folder / "whole.npy")).max()
    print(f"max |backed - whole-matrix| probability difference: {diff:.2e}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
