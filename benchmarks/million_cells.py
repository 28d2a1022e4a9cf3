"""``predict_response``, ``screen_drugs`` and ``score_states`` on 1,000,000 cells read from a backed .h5ad.

Wall time, CPU time and peak memory of each call in a fresh process.

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

Each measurement runs in its own fresh Python process (one thread unless said otherwise: ``threads``), which opens
the file with ``anndata.read_h5ad(path, backed="r")`` and calls the verb on it:

* ``predict_response`` with ``model=`` (the trained logreg or the loaded PathwayTransfer): the models stream the
  rows ``chunk_size`` at a time (PathwayTransfer: two passes, per-gene mean / sd, then z-score and forward);
* ``predict_response(cells, reference=gdsc, drug=--drug)``, the default method (``decomposed_ridge``) trained
  inside the call, with one and with two threads: above 50,000 cells the cells are scanned and scored chunk by
  chunk and the applicability domain takes its bounded-cost path;
* ``screen_drugs(cells, gdsc)``: every drug of GDSC with enough labelled lines (40) at once, one and two threads;
* ``score_states`` with each of ``--methods`` (default ``ssgsea``, the GRIP-Lung method, and ``ulm``): the backed
  ``X`` is scored ``chunk_size`` (5,000) cells at a time;
* with ``--compare-cells`` (default 100,000; 0 skips): a second file of that many cells, on which
  ``predict_response(reference=gdsc)`` runs both on the chunked path and on the in-memory path that inputs below
  50,000 cells take (the code before the chunked path existed: aligned, standardised and placed in the domain
  with every cell in memory, the neighbours searched among all cells of a sample), for the ratio of the two.

Memory: ``RSS before`` is the process after imports, model and file opening; ``peak during`` is the high-water mark
of the call alone (``VmHWM`` of ``/proc/self/status`` reset through ``/proc/self/clear_refs`` just before the call,
and a thread sampling ``VmRSS`` every 20 ms as a cross-check); ``increment`` = peak during - RSS before;
``process peak`` the process's own high-water mark over its life (``VmHWM`` before the reset and after the call;
not ``ru_maxrss``, which on Linux a child inherits from the parent that started it). ``CPU s`` is the process's
CPU time during the call (all its threads): on a machine shared with other jobs, wall time / CPU time shows how
much of the wall time went to waiting for a core. For scale, the table ends with the size of X as a dense float32
array and as an in-memory CSR matrix. Figures, not verdicts: the predictions are on synthetic cells (unlike any
cancer line: all of them fall outside the reference's domain).

    python benchmarks/million_cells.py [--n-cells 1000000] [--methods ssgsea,ulm] [--compare-cells 100000] [--quick]

``--quick``: 100,000 cells, no comparison file.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
for _var in THREAD_VARIABLES:
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
#: the ``model`` label of a measurement forced through the in-memory path (the code before the chunked path)
IN_MEMORY = "decomposed_ridge (in memory)"


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
def child(verb: str, model: str, h5ad: str, model_dir: str, drug: str, out: str, threads: str = "1") -> None:
    """One measurement in this fresh process; its figures go to ``out`` as JSON."""
    import anndata as ad
    import torch

    import sctl

    torch.set_num_threads(int(threads))
    _quiet()
    trained = bulk = None
    if verb == "predict_response" and model == "logreg":
        bulk = sctl.datasets.gdsc()
        sctl.pp.binarize_response(bulk, drug, key_added="sctl_label")
        trained = sctl.models.baselines.get_baseline("logreg", seed=SEED).fit(bulk, label_key="sctl_label")
        bulk = None
    elif verb == "predict_response" and model == "PathwayTransfer":
        trained = sctl.models.PathwayTransfer.load(Path(model_dir) / "pathway_transfer")
    elif verb in ("predict_response", "screen_drugs"):
        bulk = sctl.datasets.gdsc()
    cells = ad.read_h5ad(h5ad, backed="r")
    if model == IN_MEMORY:  # the path inputs below the large-input size take, whatever the size
        from sctl.tl import _response_stream

        _response_stream.LARGE_INPUT_CELLS = cells.n_obs
    with PeakRSS() as memory:
        start, cpu_start = time.perf_counter(), time.process_time()
        summary = _call(verb, model, cells, trained, bulk, drug)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert cells.isbacked
    result = {
        "verb": verb,
        "model": model,
        "threads": int(threads),
        "cells": cells.n_obs,
        "seconds": seconds,
        "cpu_s": cpu,
        "rss_before_mb": memory.before_mb,
        "peak_during_mb": memory.peak_mb,
        "sampled_peak_mb": memory.sampled_kb / 1024,
        "hwm_reset": memory.reset,
        "process_peak_mb": max(memory.hwm_before_mb, memory.peak_mb),
        **summary,
    }
    Path(out).write_text(json.dumps(result))


def _call(verb: str, model: str, cells, trained, bulk, drug: str) -> dict:
    """Run the measured call on the backed ``cells``; return a small summary of its results."""
    import sctl

    if verb == "predict_response":
        if trained is None:
            sctl.tl.predict_response(cells, reference=bulk, drug=drug)
            in_domain = float(cells.obs["sctl_in_domain"].mean())
        else:
            sctl.tl.predict_response(cells, model=trained)
            in_domain = float("nan")
        assert cells.obs["sctl_response_proba"].dropna().between(0, 1).all()
        return {"mean_proba": float(cells.obs["sctl_response_proba"].mean()), "in_domain": in_domain}
    if verb == "screen_drugs":
        sctl.tl.screen_drugs(cells, bulk)
        screen = cells.obsm["sctl_drug_screen"]
        return {"n_drugs": screen.shape[1], "mean_proba": float(screen.mean().mean())}
    sctl.tl.score_states(cells, method=model)
    assert cells.obsm["sctl_states"].shape == (cells.n_obs, sctl.datasets.state_markers()["state"].nunique())
    return {"share_effective": float((cells.obs["sctl_state_call"] == "effective").mean())}


def measure(verb: str, model: str, h5ad: Path, folder: Path, drug: str, threads: int = 1) -> dict:
    """Run :func:`child` in a separate Python process with ``threads`` threads and return its figures."""
    out = folder / f"{verb}-{model}-{threads}-{h5ad.stem}.json".replace(" ", "_")
    cmd = [sys.executable, __file__, "--child", verb, model, str(h5ad), str(folder), drug, str(out), str(threads)]
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    subprocess.run(cmd, check=True, env=env)
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------------------------ main
GROUPS = ("models", "reference", "screen", "states", "compare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=1_000_000, help="cells of the backed file")
    parser.add_argument("--methods", default="ssgsea,ulm", help="scoring methods of score_states")
    parser.add_argument("--drug", default="Dabrafenib", help="GDSC drug the models learn")
    parser.add_argument("--epochs", type=int, default=5, help="PathwayTransfer epochs per phase")
    parser.add_argument("--write-chunk", type=int, default=20_000, help="cells generated and appended at a time")
    parser.add_argument("--tmpdir", default=None, help="where the temporary .h5ad goes (default: the system's)")
    parser.add_argument("--compare-cells", type=int, default=100_000, help="cells of the chunked / in-memory file")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"measurements to run, of {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true", help="reduced setting: 100,000 cells, no comparison")
    if "--quick" in sys.argv:
        parser.set_defaults(n_cells=100_000, compare_cells=0)
    args = parser.parse_args()
    groups = {group for group in args.only.split(",") if group}
    if groups - set(GROUPS):
        parser.error(f"--only takes {', '.join(GROUPS)}; got {args.only}")
    _quiet()

    import pandas as pd

    import sctl

    genes = list(sctl.datasets.gdsc().var_names)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="sctl_million_") as tmp:
        folder = Path(tmp)
        need = (args.n_cells + args.compare_cells) * len(genes) * DENSITY * 8 * 1.5  # values + indices, with margin
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
        runs = []
        if "models" in groups:
            trained = train_models(folder, genes, args.drug, args.epochs)
            seconds = trained["train_pathway_transfer_s"]
            print(
                f"PathwayTransfer trained on 919 GDSC lines + {N_TRAIN_CELLS:,} cells in {seconds:.0f} s "
                f"({args.epochs} epochs per phase)",
                flush=True,
            )
            runs += [("predict_response", "logreg", h5ad, 1), ("predict_response", "PathwayTransfer", h5ad, 1)]
        for group, verb, model in (
            ("reference", "predict_response", "decomposed_ridge"),
            ("screen", "screen_drugs", "decomposed_ridge"),
        ):
            runs += [(verb, model, h5ad, threads) for threads in (1, 2) if group in groups]
        if "states" in groups:
            runs += [("score_states", method, h5ad, 1) for method in args.methods.split(",") if method]
        if "compare" in groups and args.compare_cells:
            small = folder / "compare.h5ad"
            write_cells(small, genes, args.compare_cells, args.write_chunk)
            runs += [("predict_response", model, small, 1) for model in ("decomposed_ridge", IN_MEMORY)]
        rows = []
        for verb, model, path, threads in runs:
            row = measure(verb, model, path, folder, args.drug, threads)
            rows.append(row)
            print(f"{verb} [{model}, {row['cells']:,} cells, {threads} thread(s)]: {row['seconds']:.0f} s wall, "
                  f"{row['cpu_s']:.0f} s CPU, peak {row['peak_during_mb']:,.0f} MB", flush=True)  # fmt: skip

    table = pd.DataFrame(rows)
    table["cells_per_s"] = table["cells"] / table["seconds"]
    table["increment_mb"] = table["peak_during_mb"] - table["rss_before_mb"]
    columns = {
        "verb": "verb",
        "model": "model / method",
        "cells": "cells",
        "threads": "threads",
        "seconds": "wall s",
        "cpu_s": "CPU s",
        "cells_per_s": "cells/s",
        "rss_before_mb": "RSS before MB",
        "peak_during_mb": "peak during MB",
        "increment_mb": "increment MB",
        "process_peak_mb": "process peak MB",
    }
    print(f"\n{args.n_cells:,} cells read backed from a {size_mb:,.0f} MB .h5ad:")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table[list(columns)].rename(columns=columns).round(1).to_string(index=False))
    _print_ratios(table)
    dense_mb = args.n_cells * len(genes) * 4 / 2**20
    csr_mb = (nnz * 8 + (args.n_cells + 1) * 8) / 2**20
    print(f"\nfor scale: X as dense float32 {dense_mb:,.0f} MB; as in-memory CSR (float32 + int32) {csr_mb:,.0f} MB")
    print(
        "memory check: VmHWM reset " + ("worked" if table["hwm_reset"].all() else "refused: peaks are sampled (20 ms)")
    )
    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; at the end: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")  # fmt: skip


def _print_ratios(table) -> None:
    """Wall time, CPU time and peak of the reference-trained calls relative to the other paths measured."""

    def pick(verb: str, model: str, threads: int = 1, cells: int | None = None):
        rows = table[(table["verb"] == verb) & (table["model"] == model) & (table["threads"] == threads)]
        rows = rows if cells is None else rows[rows["cells"] == cells]
        return None if rows.empty else rows.iloc[0]

    def ratio(name: str, row, base) -> None:
        if row is not None and base is not None:
            print(f"{name}: wall x{row['seconds'] / base['seconds']:.2f}, CPU x{row['cpu_s'] / base['cpu_s']:.2f}, "
                  f"peak x{row['peak_during_mb'] / base['peak_during_mb']:.2f}")  # fmt: skip

    largest = table["cells"].max()
    streamed = pick("predict_response", "decomposed_ridge", cells=largest)
    print()
    ratio("predict_response(reference=) / score_states(ulm)", streamed, pick("score_states", "ulm"))
    ratio("predict_response(reference=) / predict_response(model=logreg)", streamed, pick("predict_response", "logreg"))
    ratio("screen_drugs / predict_response(reference=)", pick("screen_drugs", "decomposed_ridge"), streamed)
    for verb in ("predict_response", "screen_drugs"):
        ratio(f"{verb}, 2 threads / 1 thread", pick(verb, "decomposed_ridge", 2), pick(verb, "decomposed_ridge", 1))
    compared = table.loc[table["model"] == IN_MEMORY, "cells"]
    if len(compared):
        cells = int(compared.iloc[0])
        ratio(
            f"{cells:,} cells, in-memory path / chunked path",
            pick("predict_response", IN_MEMORY, cells=cells),
            pick("predict_response", "decomposed_ridge", cells=cells),
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:9])
    else:
        main()
