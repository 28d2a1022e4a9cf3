"""``screen_drugs`` on every shipped drug against one ``predict_response`` call per drug: wall time and peak memory.

Data: :func:`sctl.datasets.realistic_tumor` with ``mode="drug_pair"`` (Trametinib / Olaparib, seed 0), ``--n-cells``
cells on its droplet-like platform but with all 2,000 genes of :func:`sctl.datasets.gdsc` (``n_genes=None``, not the
800-gene panel), written once to a temporary .h5ad. Reference: GDSC minus the tumour's ``held_out_lines`` (870
lines, ln IC50 of 40 drugs).

Each measurement runs in its own fresh Python process with ``--threads`` BLAS / OpenMP threads (``OMP_NUM_THREADS``
and friends set before numpy is imported), which reads the cells into memory and then calls, with the default
method (``"decomposed_ridge"``):

* ``screen_drugs(cells, reference)``: all 40 drugs in one call;
* ``predict_response(cells, reference=reference, drug=d)`` for ``--n-single`` drugs evenly spaced over the 40, one
  call each. The time of 40 separate calls is extrapolated from these (their mean x 40) unless ``--n-single 40``;
  the output says which.

Memory: ``peak during`` is the high-water mark of the timed block alone (``VmHWM`` of ``/proc/self/status`` reset
just before it, cross-checked by sampling ``VmRSS`` every 20 ms: ``PeakRSS`` of ``benchmarks/million_cells.py``),
``increment`` = peak during - RSS before (the process after imports and reading the cells).

Checks printed at the end: the largest difference between the screen's probabilities and those of the separate
calls (the same model: the decomposed ridge fits its general part on every drug of the table in both), and the
screen's AUROC on the pair's true responses with its drug specificity (:func:`sctl.metrics.drug_specificity`).

    python benchmarks/drug_screen.py [--n-cells 10000] [--threads 1,2] [--n-single 8] [--quick]

``--quick``: 2,000 cells, 4 separate calls, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DRUGS, SEED = ["Trametinib", "Olaparib"], 0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
for _variable in THREAD_VARIABLES:  # the parent simulates with one thread; each child gets its own count
    os.environ.setdefault(_variable, "1")


def _load(folder: Path):
    """The cells (in memory) and the reference without the tumour's lines."""
    import anndata as ad

    import sctl

    cells = ad.read_h5ad(folder / "cells.h5ad")
    held_out = json.loads((folder / "held_out_lines.json").read_text())
    bulk = sctl.datasets.gdsc()
    return cells, bulk[~bulk.obs_names.isin(held_out)].copy()


def child(what: str, threads: str, folder: str, drugs: str, out: str) -> None:
    """One measurement in this fresh process (threads already set in its environment); figures go to ``out``."""
    import numpy as np
    from million_cells import PeakRSS  # benchmarks/ is on the path of a script run from it

    import sctl

    warnings.filterwarnings("ignore")
    folder = Path(folder)
    cells, reference = _load(folder)
    single = [d for d in drugs.split(",") if d]
    seconds = []
    with PeakRSS() as memory:
        start = time.perf_counter()
        if what == "screen":
            sctl.tl.screen_drugs(cells, reference)
            proba = cells.obsm["sctl_drug_screen"]
            drugs_done = list(proba.columns)
        else:
            columns = []
            for drug in single:
                begin = time.perf_counter()
                sctl.tl.predict_response(cells, reference=reference, drug=drug)
                seconds.append(time.perf_counter() - begin)
                columns.append(cells.obs["sctl_response_proba"].to_numpy())
            drugs_done = single
        total = time.perf_counter() - start
    values = proba.to_numpy() if what == "screen" else np.column_stack(columns)
    np.save(folder / f"{what}-{threads}.npy", values)
    result = {
        "what": what,
        "threads": int(threads),
        "drugs": drugs_done,
        "seconds": total,
        "per_call_s": seconds,
        "rss_before_mb": memory.before_mb,
        "peak_during_mb": memory.peak_mb,
        "hwm_reset": memory.reset,
    }
    Path(out).write_text(json.dumps(result))


def measure(what: str, threads: int, folder: Path, drugs: list[str]) -> dict:
    """Run :func:`child` in a separate Python process with ``threads`` threads and return its figures."""
    out = folder / f"{what}-{threads}.json"
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    cmd = [sys.executable, __file__, "--child", what, str(threads), str(folder), ",".join(drugs), str(out)]
    subprocess.run(cmd, check=True, env=env)
    return json.loads(out.read_text())


def write_tumour(folder: Path, n_cells: int) -> tuple[str, float]:
    """Simulate the tumour, write it and its held-out lines to ``folder``; return its description and seconds."""
    import sctl

    start = time.perf_counter()
    cells = sctl.datasets.realistic_tumor(DRUGS, mode="drug_pair", n_cells=n_cells, seed=SEED, n_genes=None)
    held_out = list(cells.uns["sctl_tumor"]["held_out_lines"])
    (folder / "held_out_lines.json").write_text(json.dumps(held_out))
    cells.uns = {}
    cells.write_h5ad(folder / "cells.h5ad")
    described = f"{cells.n_obs:,} cells x {cells.n_vars:,} genes; reference GDSC minus {len(held_out)} held-out lines"
    return described, time.perf_counter() - start


def evenly_spaced(drugs: list[str], n: int) -> list[str]:
    """``n`` drugs spread over the list (all of them when ``n`` reaches its length)."""
    if n >= len(drugs):
        return list(drugs)
    return [drugs[round(i * (len(drugs) - 1) / max(n - 1, 1))] for i in range(n)]


def checks(folder: Path, screen: dict, single: dict) -> None:
    """Same probabilities from the screen and the separate calls; the screen's AUROC on the pair's truth."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    import sctl

    threads = screen["threads"]
    screened = pd.DataFrame(np.load(folder / f"screen-{threads}.npy"), columns=screen["drugs"])
    separate = np.load(folder / f"single-{single['threads']}.npy")
    difference = np.nanmax(np.abs(screened[single["drugs"]].to_numpy() - separate))
    print(f"largest |screen_drugs - predict_response| over the {len(single['drugs'])} drugs called separately: "
          f"{difference:.2e}")  # fmt: skip
    truth = ad.read_h5ad(folder / "cells.h5ad").obsm["response"][DRUGS]
    scored = screened[DRUGS].notna().all(axis=1).to_numpy()
    scores = screened.loc[scored, DRUGS].set_axis(truth.index[scored])
    aurocs = {d: sctl.metrics.auroc(truth[d][scored] == "sensitive", scores[d]) for d in DRUGS}
    specificity = sctl.metrics.drug_specificity(truth[scored], scores)
    print("screen AUROC on the true responses: " + ", ".join(f"{d} {a:.3f}" for d, a in aurocs.items())
          + f"; drug specificity {specificity:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=10_000, help="cells of the tumour")
    parser.add_argument("--threads", default="1,2", help="thread counts, one fresh process each")
    parser.add_argument("--n-single", type=int, default=8, help="drugs timed with separate predict_response calls")
    parser.add_argument("--quick", action="store_true", help="reduced setting: 2,000 cells, 4 separate calls, 1 thread")
    if "--quick" in sys.argv:
        parser.set_defaults(n_cells=2_000, n_single=4, threads="1")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import pandas as pd

    import sctl

    all_drugs = list(sctl.datasets.gdsc().obsm["ln_ic50"].columns)
    single_drugs = evenly_spaced(all_drugs, args.n_single)
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="sctl_drug_screen_") as tmp:
        folder = Path(tmp)
        described, seconds = write_tumour(folder, args.n_cells)
        print(f"drug-pair tumour ({' / '.join(DRUGS)}, seed {SEED}): {described}; simulated in {seconds:.0f} s")
        rows = {}
        for threads in thread_counts:
            for what in ("screen", "single"):
                row = measure(what, threads, folder, single_drugs)
                rows[what, threads] = row
                print(f"{what} [{threads} thread(s)]: {row['seconds']:.1f} s for {len(row['drugs'])} drug(s), "
                      f"peak {row['peak_during_mb']:,.0f} MB", flush=True)  # fmt: skip
        print()
        checks(folder, rows["screen", thread_counts[0]], rows["single", thread_counts[0]])

    n_drugs = len(rows["screen", thread_counts[0]]["drugs"])
    table = pd.DataFrame(
        [
            {
                "call": "screen_drugs (one call)" if what == "screen" else f"predict_response x {len(r['drugs'])}",
                "threads": threads,
                "drugs": len(r["drugs"]),
                "wall s": r["seconds"],
                "s per drug": r["seconds"] / len(r["drugs"]),
                "RSS before MB": r["rss_before_mb"],
                "peak during MB": r["peak_during_mb"],
                "increment MB": r["peak_during_mb"] - r["rss_before_mb"],
            }
            for (what, threads), r in rows.items()
        ]
    )
    print(f"\n{described}, default method (decomposed_ridge), one fresh process per row:")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(2).to_string(index=False))
    extrapolated = len(single_drugs) < n_drugs
    how = f"extrapolated: mean of {len(single_drugs)} timed calls x {n_drugs}" if extrapolated else "all timed"
    print(f"\n{n_drugs} separate predict_response calls ({how}) / one screen_drugs call:")
    for threads in thread_counts:
        screen, single = rows["screen", threads], rows["single", threads]
        separate_s = sum(single["per_call_s"]) / len(single["per_call_s"]) * n_drugs
        print(f"  {threads} thread(s): {separate_s:,.0f} s / {screen['seconds']:.1f} s = "
              f"{separate_s / screen['seconds']:.0f}x")  # fmt: skip
    if len(thread_counts) > 1:
        one, two = rows["screen", thread_counts[0]]["seconds"], rows["screen", thread_counts[-1]]["seconds"]
        print(f"screen_drugs wall time with {thread_counts[0]} thread(s) / with {thread_counts[-1]}: {one / two:.2f} "
              "(above 1: faster with more threads; on a loaded CPU extra threads can slow it down)")  # fmt: skip
    reset = all(r["hwm_reset"] for r in rows.values())
    print("memory check: VmHWM reset " + ("worked" if reset else "refused: peaks are sampled (20 ms)"))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on "
          f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:7])
    else:
        main()
