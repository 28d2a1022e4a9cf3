"""Write the CSG2A models saved by sctl 0.2 (one class, both stages in one file), with what they predict.

``tests/models/test_csg2a_saved_v1.py`` checks that these saves still load and predict the same numbers after
CSG2A was split into :class:`sctl.models.CSG2A` (pretraining) and :class:`sctl.models.CSG2AIC50` (the ln IC50
stage). The files were written by the single-class CSG2A of commit 9c93e41 (file format 1), whose
``finetune_ic50`` fine-tuned the model in place and saved both stages into one directory. This script calls that
API, so it only runs against that code::

    git worktree add /tmp/sctl-v1 9c93e41
    PYTHONPATH=/tmp/sctl-v1/src python scripts/write_csg2a_fixtures.py

It writes, under ``tests/models/data/saved_v1/CSG2A/``,

``pretrained/``
    a pretrained CSG2A (40 genes, the STRING prior, two epochs),
``finetuned/``
    the same model after ``finetune_ic50`` on 30 GDSC lines and three drugs,
``profiles.csv``, ``bulk.csv``
    the inputs of the predictions below (basal profiles with drug, dose and time; expression of 10 GDSC lines),
``expected_*.csv``
    the predictions of the saved models on them: perturbed profiles, distances, ln IC50 (two seen drugs and an
    unseen SMILES) and the fine-tuned attention map.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

import sctl
from sctl.models import CSG2A

OUT = Path(__file__).resolve().parents[1] / "tests" / "models" / "data" / "saved_v1" / "CSG2A"
DRUGS = ["Trametinib", "Dasatinib", "Erlotinib"]
ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"  # an unseen drug, through its SMILES
FLOAT = "%.9g"  # float32 round-trips through 9 significant digits


def data() -> tuple[pd.DataFrame, object, object]:
    """The plate drugs' SMILES, the treated L1000 profiles and 30 GDSC lines, on 40 shared landmark genes."""
    lincs, gdsc = sctl.datasets.lincs(), sctl.datasets.gdsc()
    sctl.pp.match_controls(lincs, control="DMSO")
    table = gdsc.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    genes = gdsc.var_names[gdsc.var["landmark"].to_numpy()].intersection(lincs.var_names)[:40]
    plate = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    plate.obs = plate.obs[["drug", "dose", "time"]].astype({"drug": str})
    bulk = gdsc[:30, genes].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][DRUGS]
    return smiles, plate, bulk


def main() -> None:
    torch.set_num_threads(1)
    smiles, plate, bulk = data()
    CSG2A.setup_anndata(plate, drug_key="drug", smiles=smiles)
    model = CSG2A(plate, ppi=sctl.datasets.ppi(), n_hidden=4, n_condition_hidden=8, seed=0)
    model.train(max_epochs=2, enable_progress_bar=False)
    profiles, lines = plate[:10], bulk[:10]
    OUT.mkdir(parents=True, exist_ok=True)
    inputs = pd.DataFrame(profiles.layers["sctl_basal"], index=profiles.obs_names, columns=profiles.var_names)
    profiles.obs.join(inputs).to_csv(OUT / "profiles.csv", float_format=FLOAT)
    lines.to_df().to_csv(OUT / "bulk.csv", float_format=FLOAT)

    model.save(OUT / "pretrained", overwrite=True)
    model.predict(profiles).to_csv(OUT / "expected_predict.csv", float_format=FLOAT)
    distance = model.perturbation_distance(lines, DRUGS, dose=10.0, time=72.0)
    distance.to_csv(OUT / "expected_distance.csv", float_format=FLOAT)

    model.finetune_ic50(
        bulk, drugs=DRUGS, n_projection=8, n_head_hidden=4, max_epochs=2, enable_progress_bar=False
    )  # the sctl recipe: drug offsets from the nearest training drugs, clipped descriptors
    model.save(OUT / "finetuned", overwrite=True)
    drugs = {"Trametinib": smiles["trametinib"], "Dasatinib": smiles["dasatinib"], "aspirin": ASPIRIN}
    model.predict_ic50(lines, drugs).to_csv(OUT / "expected_ic50.csv", float_format=FLOAT)
    attention = model.get_attention(lines[:3], drug="Trametinib", stage="finetuned")
    attention.to_csv(OUT / "expected_attention_finetuned.csv", float_format=FLOAT)
    print(f"wrote {sorted(p.name for p in OUT.iterdir())} to {OUT}")
    assert np.isfinite(model.predict_ic50(lines, drugs).to_numpy()).all()


if __name__ == "__main__":
    main()
