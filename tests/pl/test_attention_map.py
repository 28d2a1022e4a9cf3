import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import sctl
from sctl.models import CSG2A


def test_attention_map_renders_csg2a_maps(tmp_path):
    torch.set_num_threads(1)
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)[:40]
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    plate = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    CSG2A.setup_anndata(plate, drug_key="drug", smiles=smiles)
    model = CSG2A(plate, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    path = tmp_path / "attention.png"
    fig = sctl.pl.attention_map(plate[:6], model, ["trametinib", "dasatinib"], dose=1.0, n_top=12, save=path)
    assert path.exists()
    assert path.stat().st_size > 0
    heatmaps = [ax for ax in fig.axes if ax.images and ax.get_title().startswith(("trametinib", "dasatinib"))]
    assert len(heatmaps) == 2
    assert heatmaps[0].images[0].get_array().shape == (12, 12)
    shown = [t.get_text() for t in heatmaps[0].get_yticklabels()]
    assert shown == [t.get_text() for t in heatmaps[1].get_yticklabels()]  # panels share their genes
    weights = model.get_attention(plate[:6], smiles=smiles["trametinib"], dose=1.0, time=24.0)
    np.testing.assert_allclose(heatmaps[0].images[0].get_array(), weights.loc[shown, shown].to_numpy(), rtol=1e-5)
    corr_ax = next(ax for ax in fig.axes if ax.get_title() == "Correlation of the maps")
    corr = corr_ax.images[0].get_array()
    np.testing.assert_allclose(np.diag(corr), 1.0)
    plt.close(fig)
    one = sctl.pl.attention_map(plate[:3], model, "trametinib", n_top=5, show=False)
    assert not any(ax.get_title() == "Correlation of the maps" for ax in one.axes)
    plt.close(one)
    with pytest.raises(TypeError, match="get_attention"):
        sctl.pl.attention_map(plate, object(), "trametinib")
    with pytest.raises(KeyError, match="No SMILES"):
        sctl.pl.attention_map(plate[:3], model, "not-a-drug")
