"""Does the resistance index of ``sctl.tl.score_states`` agree with the observed drug sensitivity of cell lines?

On the embedded GDSC bulk profiles (``sctl.datasets.gdsc()``: 919 cell lines x 2,000 genes, ln IC50 of 40 drugs),
the states are scored by ssGSEA with sctl's marker sets (``sctl.datasets.state_markers()``) and the resistance index
(RI = ineffective - effective z-score) is compared, drug by drug, with the lines' ln IC50 by Spearman correlation.
A resistance index that means something should correlate positively (high RI, high IC50, resistant).

These are untreated profiles, so the test asks whether the *baseline* state signature predicts sensitivity; GRIP-Lung
applies the index to predicted post-treatment profiles instead, so a weak correlation here is not a refutation.

Control: every state's gene set is replaced by a random set of the same size (the number of its genes present in
the 2,000), drawn from all genes, with the same effective / ineffective split; ``--draws`` seeded draws give the
mean and standard deviation of the control correlation and the empirical two-sided p of the real one,
``(1 + #{|rho_random| >= |rho_real|}) / (1 + draws)``. Lines without a measured IC50 are left out per drug.

    python benchmarks/resistance_index_agreement.py [--draws 100] [--drugs Dabrafenib,Erlotinib] [--method ssgsea]

``--quick``: 10 draws of the control (options given explicitly still win).
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=100, help="random gene-set draws of the control")
    parser.add_argument("--drugs", default="", help="comma-separated drugs (default: every drug of the table)")
    parser.add_argument("--method", default="ssgsea", help="scoring method of sctl.tl.score_states")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="reduced setting: 10 draws")
    if "--quick" in sys.argv:
        parser.set_defaults(draws=10)
    args = parser.parse_args()
    table = run(args.draws, [d for d in args.drugs.split(",") if d], args.method, args.seed)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(
        f"\nmedian rho real {table['rho'].median():.3f}, random mean {table['rho_random_mean'].median():.3f}; "
        f"{int((table['p_empirical'] < 0.05).sum())} of {len(table)} drugs with empirical p < 0.05; "
        f"{int((table['rho'] > 0).sum())} of {len(table)} with rho > 0."
    )


def run(draws: int, drugs: list[str], method: str, seed: int) -> pd.DataFrame:
    """Return one row per drug: real rho, its p, the control's mean and sd, and the empirical p."""
    import sctl

    bulk = sctl.datasets.gdsc()
    response = bulk.obsm["ln_ic50"]
    drugs = drugs or sorted(response.columns)
    markers = sctl.datasets.state_markers()
    categories = markers.drop_duplicates("state").set_index("state")["category"]
    effective = categories.index[categories == "effective"].tolist()
    ineffective = categories.index[categories == "ineffective"].tolist()

    real_index = _resistance_index(bulk, markers, effective, ineffective, method)
    real = {drug: _spearman(real_index, response[drug]) for drug in drugs}

    present = markers[markers["gene"].isin(bulk.var_names)]
    sizes = present.groupby("state").size()
    rng = np.random.default_rng(seed)
    random_rho = np.empty((draws, len(drugs)))
    for i in range(draws):
        sets = {state: rng.choice(bulk.var_names, size=int(n), replace=False).tolist() for state, n in sizes.items()}
        index = _resistance_index(bulk, sets, effective, ineffective, method)
        random_rho[i] = [_spearman(index, response[drug])[0] for drug in drugs]

    rows = []
    for j, drug in enumerate(drugs):
        rho, p, n = real[drug]
        control = random_rho[:, j]
        rows.append(
            {
                "drug": drug,
                "n_lines": n,
                "rho": rho,
                "p_spearman": p,
                "rho_random_mean": control.mean(),
                "rho_random_sd": control.std(ddof=1),
                "p_empirical": (1 + np.sum(np.abs(control) >= abs(rho))) / (1 + draws),
            }
        )
    return pd.DataFrame(rows).set_index("drug").sort_values("rho", ascending=False)


def _resistance_index(bulk, genesets, effective: list[str], ineffective: list[str], method: str) -> pd.Series:
    import sctl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scored = sctl.tl.score_states(
            bulk, genesets=genesets, method=method, min_genes=5, effective=effective, ineffective=ineffective, copy=True
        )
    return scored.obs["sctl_resistance_index"]


def _spearman(index: pd.Series, ic50: pd.Series) -> tuple[float, float, int]:
    keep = ic50.notna()
    result = spearmanr(index[keep], ic50[keep])
    return float(result.statistic), float(result.pvalue), int(keep.sum())


if __name__ == "__main__":
    main()
