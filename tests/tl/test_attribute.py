import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import sctl
from sctl.models import ATSDPNet, PathwayTransfer, transfer_data

from ..models._transfer_data import DRUG, bulk_and_cells

torch.set_num_threads(1)
FAST = {"enable_progress_bar": False}


def _trained(cls, **setup):
    bulk, cells = bulk_and_cells()
    data = transfer_data(bulk, cells, DRUG)
    cls.setup_anndata(data, **setup)
    model = cls(data)
    model.train(max_epochs=2, **FAST)
    return model, cells[:80].copy()


def test_pathway_attribution_is_complete_and_ranked(tmp_path):
    model, cells = _trained(PathwayTransfer)
    sctl.tl.attribute(cells, model, by="pathway", n_steps=64)
    table = cells.obsm["sctl_attribution"]
    assert list(table.columns) == model.latent_names
    assert table.index.equals(cells.obs_names)
    # completeness: attributions sum to logit(cell) - logit(average cell)
    x = torch.as_tensor(model._input_matrix(cells, None, True)[0])
    with torch.no_grad():
        code = model.module.encode(x, None)
        gap = model.module.logits_from_code(code) - model.module.logits_from_code(model.module.encode(x[:1] * 0, None))
    np.testing.assert_allclose(table.sum(axis=1), gap.numpy(), atol=2e-2)
    ranking = cells.uns["sctl_attribution"]["ranking"]
    assert ranking["mean_abs"].is_monotonic_decreasing
    sctl.tl.predict_response(cells, model=model)
    fig = sctl.pl.attribution(cells, n_top=5, show=False, save=tmp_path / "attr.png")
    assert fig is not None
    assert (tmp_path / "attr.png").exists()


def test_gene_attribution_for_atsdp_and_errors():
    model, cells = _trained(ATSDPNet, cluster_key=False)
    out = sctl.tl.attribute(cells, model, by="gene", n_steps=16, copy=True)
    assert out.obsm["sctl_attribution"].shape == (cells.n_obs, model.adata.n_vars)
    assert "sctl_attribution" not in cells.obsm
    with pytest.raises(ValueError, match="pathway-masked decoder"):
        sctl.tl.attribute(cells, model, by="pathway")
    with pytest.raises(ValueError, match="`by` must be"):
        sctl.tl.attribute(cells, model, by="cell")
    with pytest.raises(KeyError, match=r"run `sctl\.tl\.attribute"):
        sctl.pl.attribution(cells)


def test_attribution_in_row_chunks_equals_all_at_once(monkeypatch):
    model, cells = _trained(PathwayTransfer)
    whole = sctl.tl.attribute(cells, model, by="gene", n_steps=16, copy=True).obsm["sctl_attribution"]
    monkeypatch.setattr("sctl.tl._attribute.ROWS_AT_ONCE", 7)  # 80 cells in 12 chunks, the last one short
    chunked = sctl.tl.attribute(cells, model, by="gene", n_steps=16, copy=True).obsm["sctl_attribution"]
    np.testing.assert_allclose(chunked.to_numpy(), whole.to_numpy(), rtol=1e-4, atol=1e-6)
    assert np.abs(whole.to_numpy()).sum() > 0
