"""``predict_response`` and ``score_states`` on 1,000,000 cells read from a backed .h5ad: wall time and peak memory.

Data: synthetic and seeded, shaped like log-normalised scRNA-seq: ``--n-cells`` cells x the 2,000 genes of
``sctl.datasets.gdsc()``, stored as a CSR .h5ad (float32). Each gene has its own detection rate (log-normal around
8 %) and each cell its own capture factor, so about 8 % of the entries are non-zero, more for some genes and cells
than for others; a non-zero entry is ``log1p`` of a Poisson count plus one. The file is written ``--write-chunk``
cells at a time into a temporary folder (the writer never holds the matrix) and removed at the end.

Models, trained once before the measurements on the real GDSC bulk (919 lines, ln IC50 of ``--drug``):

* ``logreg``: the ``"logreg"`` baseline (:func:`sctl.models.baselines.get_baseline`) fitted on the lines labelled by
  :func:`sctl.pp.binarize_response` (bottom / top 30 %);
* ``PathwayTransfer``: :meth:`sctl.models.PathwayTransfer.from_reference` on the bulk and 5,000 cells drawn from the
  same generator (``--epochs`` epochs per phase, early stopping off), saved to disk.

Each measurement runs in its own fresh Python process (one thread), which opens the file with
``anndata.read_h5ad(path, backed="r")`` and calls the verb on it:

* ``predict_response`` with ``model=`` (the trained logreg or the loaded PathwayTransfer): the models stream the
  rows ``chunk_size`` at a time (PathwayTransfer: two passes, per-gene mean / sd, then z-score and forward);
* ``score_states`` with each of ``--methods`` (default ``ssgsea``, the GRIP-Lung method, and ``ulm``): the backed
  ``X`` is scored ``chunk_size`` (5,000) cells at a time.

Memory: ``RSS before`` is the process after imports, model and file opening; ``peak during`` is the high-water mark
of the call alone (``VmHWM`` of ``/proc/self/status`` reset through ``/proc/self/clear_refs`` just before the call,
and a thread sampling ``VmRSS`` every 20 ms as a cross-check); ``increment`` = peak during - RSS before;
``process peak`` the process's own high-water mark over its life (``VmHWM`` before the reset and after the call;
not ``ru_maxrss``, which on Linux a child inherits from the parent that started it). For scale, the table ends
with the size of X as a dense float32 array and as an in-memory CSR matrix. Figures, not verdicts: the predictions
are on synthetic cells.

Calling ``predict_response(adata, reference=bulk, drug=...)`` instead (training inside the call) aligns and
z-scores the cells with :func:`sctl.pp.align_genes` / :func:`sctl.pp.standardize`, which load them: on a backed file,
train first and pass ``model=`` as here.

    python benchmarks/million_cells.py [--n-cells 1000000] [--methods ssgsea,ulm] [--quick]

``--quick``: 100,000 cells.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SEED, DENSITY, N_TRAIN_CELLS, CHUNK = 0, 0.08, 5_000, 5_000


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "scvi"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ------------------------------------------------------------------------------------------------ data
class CellGenerator:
    """Seeded sparse log-normalised cells over ``genes``: per-gene detection rates, per-cell capture factors."""

    def __init__(self, n_genes: int, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        rate = self.rng.lognormal(mean=0.0, sigma=1.0, size=n_genes)
        self.detection = (DENSITY * rate / rate.mean()).clip(0.002, 0.9).astype(np.float32)
        self.mean_count = self.rng.gamma(shape=1.5, scale=1.0, size=n_genes)

    def block(self, n_cells: int):
        """``n_cells`` x genes CSR float32 matrix."""
        from scipy import sparse

        capture = self.rng.lognormal(mean=0.0, sigma=0.4, size=(n_cells, 1)).astype(np.float32)
        mask = self.rng.random((n_cells, len(self.detection)), dtype=np.float32) < self.detection * capture
        rows, cols = np.nonzero(mask)
        counts = 1 + self.rng.poisson(self.mean_count[cols])
        values = np.log1p(counts).astype(np.float32)
        return sparse.csr_matrix((values, (rows, cols)), shape=mask.shape, dtype=np.float32)


def write_cells(path: Path, genes: list[str], n_cells: int, chunk: int) -> tuple[int, float]:
    """Write ``n_cells`` synthetic cells as a CSR .h5ad, ``chunk`` cells at a time; return the non-zeros and seconds."""
    import anndata as ad
    import h5py
    import pandas as pd

    start = time.perf_counter()
    generator = CellGenerator(len(genes))
    obs = pd.DataFrame(index=pd.Index([f"cell{i}" for i in range(n_cells)]))
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        ad.io.write_elem(f, "obs", obs)
        ad.io.write_elem(f, "var", pd.DataFrame(index=pd.Index(genes)))
        for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
            ad.io.write_elem(f, key, {})
        first = generator.block(min(chunk, n_cells))
        nnz = first.nnz
        ad.io.write_elem(f, "X", first)  # written resizable: appendable
        X = ad.io.sparse_dataset(f["X"])
        for begin in range(chunk, n_cells, chunk):
            block = generator.block(min(chunk, n_cells - begin))
            nnz += block.nnz
            X.append(block)
    return nnz, time.perf_counter() - start


def train_models(folder: Path, genes: list[str], drug: str, epochs: int) -> dict[str, float]:
    """Train and save a PathwayTransfer on the GDSC bulk and 5,000 generated cells; return the seconds taken."""
    import anndata as ad
    import pandas as pd
    import torch

    import sctl

    torch.set_num_threads(1)
    bulk = sctl.datasets.gdsc()
    cells = ad.AnnData(CellGenerator(len(genes), seed=SEED + 1).block(N_TRAIN_CELLS), var=pd.DataFrame(index=genes))
    cells.obs_names = [f"train_cell{i}" for i in range(N_TRAIN_CELLS)]
    start = time.perf_counter()
    model = sctl.models.PathwayTransfer.from_reference(
        bulk,
        cells,
        drug,
        seed=SEED,
        train_kwargs={
            "max_epochs": epochs,
            "early_stopping": False,
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "seed": SEED,
        },
    )
    seconds = time.perf_counter() - start
    model.save(folder / "pathway_transfer", overwrite=True)
    return {"train_pathway_transfer_s": seconds}


# ------------------------------------------------------------------------------------------------ memory
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakRSS:
    """High-water mark of the resident set size inside a ``with`` block, in MB.

    ``VmHWM`` is reset (``/proc/self/clear_refs`` <- ``5``) on entry and read on exit; a thread sampling ``VmRSS``
    every ``interval`` seconds gives a lower bound that does not depend on the reset being allowed.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.sampled_kb, self.hwm_kb, self.reset = interval, 0, 0, False
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.sampled_kb = max(self.sampled_kb, _status_kb("VmRSS"))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.before_mb = _status_kb("VmRSS") / 1024
        self.hwm_before_mb = _status_kb("VmHWM") / 1024
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.reset = True
        except OSError:
            self.reset = False
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sampled_kb = max(self.sampled_kb, _status_kb("VmRSS"))
        self.hwm_kb = _status_kb("VmHWM")

    @property
    def peak_mb(self) -> float:
        """Peak RSS during the block: ``VmHWM`` when it could be reset, else the sampled maximum."""
        return (max(self.hwm_kb, self.sampled_kb) if self.reset else self.sampled_kb) / 1024


# ------------------------------------------------------------------------------------------------ one measurement
def child(verb: str, model: str, h5ad: str, model_dir: str, drug: str, out: str) -> None:
    """One measurement in this fresh process; its figures go to ``out`` as JSON."""
    import anndata as ad
    import torch

    import sctl

    torch.set_num_threads(1)
    _quiet()
    if verb == "predict_response":
        if model == "logreg":
            bulk = sctl.datasets.gdsc()
            sctl.pp.binarize_response(bulk, drug, key_added="sctl_label")
            trained = sctl.models.baselines.get_baseline("logreg", seed=SEED).fit(bulk, label_key="sctl_label")
            del bulk
        else:
            trained = sctl.models.PathwayTransfer.load(Path(model_dir) / "pathway_transfer")
    cells = ad.read_h5ad(h5ad, backed="r")
    with PeakRSS() as memory:
        start = time.perf_counter()
        if verb == "predict_response":
            sctl.tl.predict_response(cells, model=trained)
            summary = {"mean_proba": float(cells.obs["sctl_response_proba"].mean())}
            assert cells.obs["sctl_response_proba"].between(0, 1).all()
        else:
            sctl.tl.score_states(cells, method=model)
            summary = {"share_effective": float((cells.obs["sctl_state_call"] == "effective").mean())}
            assert cells.obsm["sctl_states"].shape == (cells.n_obs, sctl.datasets.state_markers()["state"].nunique())
        seconds = time.perf_counter() - start
    assert cells.isbacked
    result = {
        "verb": verb,
        "model": model,
        "cells": cells.n_obs,
        "seconds": seconds,
        "rss_before_mb": memory.before_mb,
        "peak_during_mb": memory.peak_mb,
        "sampled_peak_mb": memory.sampled_kb / 1024,
        "hwm_reset": memory.reset,
        "process_peak_mb": max(memory.hwm_before_mb, memory.peak_mb),
        **summary,
    }
    Path(out).write_text(json.dumps(result))


def measure(verb: str, model: str, h5ad: Path, folder: Path, drug: str) -> dict:
    """Run :func:`child` in a separate Python process and return its figures."""
    out = folder / f"{verb}-{model}.json"
    cmd = [sys.executable, __file__, "--child", verb, model, str(h5ad), str(folder), drug, str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=1_000_000, help="cells of the backed file")
    parser.add_argument("--methods", default="ssgsea,ulm", help="scoring methods of score_states")
    parser.add_argument("--drug", default="Dabrafenib", help="GDSC drug the models learn")
    parser.add_argument("--epochs", type=int, default=5, help="PathwayTransfer epochs per phase")
    parser.add_argument("--write-chunk", type=int, default=20_000, help="cells generated and appended at a time")
    parser.add_argument("--tmpdir", default=None, help="where the temporary .h5ad goes (default: the system's)")
    parser.add_argument("--quick", action="store_true", help="reduced setting: 100,000 cells")
    if "--quick" in sys.argv:
        parser.set_defaults(n_cells=100_000)
    args = parser.parse_args()
    _quiet()

    import pandas as pd

    import sctl

    genes = list(sctl.datasets.gdsc().var_names)
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="sctl_million_") as tmp:
        folder = Path(tmp)
        need = args.n_cells * len(genes) * DENSITY * 8 * 1.5  # float32 values + int32 indices, with margin
        free = shutil.disk_usage(folder).free
        if free < need:
            sys.exit(f"{free / 2**30:.1f} GiB free in {folder}, about {need / 2**30:.1f} GiB needed: pass --tmpdir.")
        h5ad = folder / "cells.h5ad"
        nnz, write_s = write_cells(h5ad, genes, args.n_cells, args.write_chunk)
        size_mb = h5ad.stat().st_size / 2**20
        print(
            f"wrote {args.n_cells:,} cells x {len(genes):,} genes (CSR, {nnz / (args.n_cells * len(genes)):.1%} "
            f"non-zero, {size_mb:,.0f} MB on disk) in {write_s:.0f} s",
            flush=True,
        )
        trained = train_models(folder, genes, args.drug, args.epochs)
        print(f"PathwayTransfer trained on 919 GDSC lines + {N_TRAIN_CELLS:,} cells in "
              f"{trained['train_pathway_transfer_s']:.0f} s ({args.epochs} epochs per phase)", flush=True)  # fmt: skip
        runs = [("predict_response", "logreg"), ("predict_response", "PathwayTransfer")]
        runs += [("score_states", method) for method in args.methods.split(",") if method]
        rows = []
        for verb, model in runs:
            row = measure(verb, model, h5ad, folder, args.drug)
            rows.append(row)
            print(f"{verb} [{model}]: {row['seconds']:.0f} s, peak {row['peak_during_mb']:,.0f} MB", flush=True)

    table = pd.DataFrame(rows)
    table["cells_per_s"] = table["cells"] / table["seconds"]
    table["increment_mb"] = table["peak_during_mb"] - table["rss_before_mb"]
    columns = {
        "verb": "verb",
        "model": "model / method",
        "cells": "cells",
        "seconds": "wall s",
        "cells_per_s": "cells/s",
        "rss_before_mb": "RSS before MB",
        "peak_during_mb": "peak during MB",
        "increment_mb": "increment MB",
        "process_peak_mb": "process peak MB",
    }
    print(f"\n{args.n_cells:,} cells read backed from a {size_mb:,.0f} MB .h5ad (one thread per process):")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[list(columns)].rename(columns=columns).round(1).to_string(index=False))
    dense_mb = args.n_cells * len(genes) * 4 / 2**20
    csr_mb = (nnz * 8 + (args.n_cells + 1) * 8) / 2**20
    print(f"\nfor scale: X as dense float32 {dense_mb:,.0f} MB; as in-memory CSR (float32 + int32) {csr_mb:,.0f} MB")
    print(
        f"largest increment over RSS before: {table['increment_mb'].max():,.0f} MB "
        f"= {table['increment_mb'].max() / dense_mb:.3f} of dense X"
    )
    print(
        "memory check: VmHWM reset " + ("worked" if table["hwm_reset"].all() else "refused: peaks are sampled (20 ms)")
    )
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on "
          f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:8])
    else:
        main()
