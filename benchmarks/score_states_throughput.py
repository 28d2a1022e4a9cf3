"""Throughput of ``sctl.tl.score_states`` per scoring method on 100,000 synthetic cells.

The cells are a semi-synthetic ``sctl.datasets.tumor`` of ``--base`` cells (2,000 genes, sparse log-normalised)
tiled up to ``--n-cells``; scoring does not depend on cells being distinct. Each method is warmed up on 200 cells
(numba compilation excluded) and timed on 1,000 and 2,000 cells; the two times give the growth exponent ``b``
(time ~ cells^b: 1 for most methods, about 2 for GSVA, whose kernel densities compare every cell with every other).
A method runs on all cells when ``t(2000) * (n / 2000)^b`` fits in ``--budget`` seconds, otherwise on as many cells
as fit (the ``n_cells`` column says so; for such a method, ``predicted_s_all`` extrapolates to all cells). Prints
cells/s and the ratio to the fastest method. Threads are limited to ``--threads`` (default 1) for repeatable figures.

    python benchmarks/score_states_throughput.py [--n-cells 100000] [--methods ssgsea,ulm] [--budget 300] [--quick]

``--quick``: 5,000 cells (2,000 distinct), 10 s per method, every method but GSVA (whose 2,000-cell probe alone takes
minutes); options given explicitly still win.
"""

import argparse
import os
import sys


def _limit_threads(n: int) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-cells", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=20_000, help="distinct cells simulated before tiling")
    parser.add_argument("--methods", default="ssgsea,ulm,aucell,zscore,mlm,viper,gsva")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds allowed per method for the full run")
    parser.add_argument("--threads", type=int, default=1)
    quick = {"n_cells": 5_000, "base": 2_000, "budget": 10.0, "methods": "ssgsea,ulm,aucell,zscore,mlm,viper"}
    parser.add_argument("--quick", action="store_true", help=f"reduced setting: {quick}")
    if "--quick" in sys.argv:
        parser.set_defaults(**quick)
    args = parser.parse_args()
    _limit_threads(args.threads)
    run(args.n_cells, args.base, args.methods.split(","), args.budget)


def run(n_cells: int, base: int, methods: list[str], budget: float) -> None:
    import time
    import warnings

    import anndata as ad
    import numpy as np
    import pandas as pd

    import sctl

    warnings.filterwarnings("ignore")
    cells = sctl.datasets.tumor(n_cells=min(base, n_cells), seed=0)
    reps = int(np.ceil(n_cells / cells.n_obs))
    big = ad.concat([cells] * reps, index_unique="-")[:n_cells].copy()
    print(f"{big.n_obs} cells x {big.n_vars} genes, {big.X.nnz / np.prod(big.shape):.0%} non-zero", file=sys.stderr)

    def timed(method: str, n: int) -> float:
        adata = big[:n].copy()
        start = time.perf_counter()
        sctl.tl.score_states(adata, method=method)
        return time.perf_counter() - start

    rows = []
    for method in methods:
        timed(method, 200)  # compile numba kernels, load decoupler
        small, probe = timed(method, 1_000), timed(method, 2_000)
        exponent = float(np.clip(np.log2(probe / small), 1.0, 3.0))
        predicted = probe * (n_cells / 2_000) ** exponent
        n = n_cells if predicted <= budget else int(2_000 * (budget / probe) ** (1 / exponent)) // 1000 * 1000
        n = max(n, 2_000)
        seconds = probe if n == 2_000 else timed(method, n)
        row = {"method": method, "n_cells": n, "seconds": seconds, "cells_per_s": n / seconds}
        rows.append({**row, "growth_exponent": exponent, "predicted_s_all": predicted})
        print(f"{method}: {n} cells in {seconds:.1f} s", file=sys.stderr)
    table = pd.DataFrame(rows).set_index("method")
    table["ratio_to_fastest"] = table["cells_per_s"] / table["cells_per_s"].max()
    rounding = {"seconds": 2, "cells_per_s": 0, "ratio_to_fastest": 4, "growth_exponent": 2, "predicted_s_all": 0}
    print(table.round(rounding).to_string())


if __name__ == "__main__":
    main()
