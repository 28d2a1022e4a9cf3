"""AUROC of the bulk-to-single-cell models against the baselines on semi-synthetic tumours (same data, same seed).

300 GDSC lines x 485 landmark genes (the tumour's source lines excluded) -> 600 pseudo-cells of
:func:`sctl.datasets.tumor`, Dabrafenib, 30 epochs per phase. Prints one row per tumour seed: (AUROC, seconds).
Run: ``python benchmarks/transfer_models.py``.
"""

import logging
import time
import warnings

import torch

import sctl
from sctl.metrics import auroc

DEEP = ("pathway_transfer", "atsdp")


def main(drug: str = "Dabrafenib", seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    full = sctl.datasets.gdsc()
    for seed in seeds:
        cells = sctl.datasets.tumor(drug, n_cells=600, seed=seed)
        bulk = full[~full.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])]
        bulk = bulk[:300, bulk.var["landmark"].to_numpy()].copy()
        truth = cells.obs["response"] == "sensitive"
        row = {}
        for method in ("logreg", "signature", *DEEP):
            scored, start = cells.copy(), time.perf_counter()
            extra = {"train_kwargs": {"max_epochs": 30, "enable_progress_bar": False}} if method in DEEP else {}
            sctl.tl.predict_response(scored, reference=bulk, drug=drug, method=method, seed=seed, **extra)
            score = auroc(truth, scored.obs["sctl_response_proba"])
            row[method] = (round(score, 3), round(time.perf_counter() - start, 1))
        print(f"tumour seed {seed}: {row}", flush=True)


if __name__ == "__main__":
    main()
