"""MuData input of the tools: bulk and cells as modalities, results written back to the right modality."""

import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl._validate import resolve_modality

mudata = pytest.importorskip("mudata")


def _bulk_and_cells(seed: int = 0, n_lines: int = 120, n_cells: int = 200, n_genes: int = 40):
    """Bulk lines with a response table and cells sharing their genes; genes g0..g4 drive sensitivity."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    bulk_x = rng.normal(size=(n_lines, n_genes))
    ln_ic50 = -bulk_x[:, :5].sum(axis=1) + rng.normal(scale=0.5, size=n_lines)
    lines = [f"line{i}" for i in range(n_lines)]
    bulk = AnnData(bulk_x.astype(np.float32), obs=pd.DataFrame(index=lines), var=pd.DataFrame(index=genes))
    bulk.obsm["ln_ic50"] = pd.DataFrame({"DrugA": ln_ic50}, index=lines)
    cells_x = rng.normal(size=(n_cells, n_genes)).astype(np.float32)
    cells = AnnData(
        cells_x, obs=pd.DataFrame(index=[f"cell{i}" for i in range(n_cells)]), var=pd.DataFrame(index=genes)
    )
    return bulk, cells


def _mdata(bulk: AnnData, cells: AnnData):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shared gene names across modalities
        return mudata.MuData({"bulk": bulk, "cells": cells})


def test_resolve_modality():
    bulk, cells = _bulk_and_cells()
    mdata = _mdata(bulk, cells)
    assert resolve_modality(cells) is cells
    assert resolve_modality(mdata, "cells") is mdata.mod["cells"]
    assert resolve_modality(_mdata_single(cells)).n_obs == cells.n_obs
    with pytest.raises(KeyError, match="Available modalities: 'bulk', 'cells'"):
        resolve_modality(mdata, "rna")
    with pytest.raises(KeyError, match="Did you mean 'cells'"):
        resolve_modality(mdata, "cell")
    with pytest.raises(ValueError, match=r"2 modalities \('bulk', 'cells'\).*mod=\.\.\."):
        resolve_modality(mdata)
    with pytest.raises(TypeError, match="not a MuData"):
        resolve_modality(cells, "cells")
    with pytest.raises(TypeError, match="must be an AnnData"):
        resolve_modality(np.zeros((2, 2)))


def _mdata_single(cells: AnnData):
    return mudata.MuData({"rna": cells})


def test_predict_response_on_mudata_matches_anndata():
    bulk, cells = _bulk_and_cells()
    expected = sctl.tl.predict_response(cells, bulk, "DrugA", method="logreg", copy=True)
    mdata = _mdata(bulk, cells.copy())
    assert sctl.tl.predict_response(mdata, drug="DrugA", mod="cells", reference_mod="bulk", method="logreg") is None
    got = mdata.mod["cells"]
    np.testing.assert_allclose(got.obs["sctl_response_proba"], expected.obs["sctl_response_proba"])
    assert got.uns["sctl_response"]["params"]["drug"] == "DrugA"
    assert "sctl_response_proba" not in mdata.mod["bulk"].obs
    # the new columns are pulled to the global obs, prefixed by the modality as mudata does; nothing else is
    assert {"cells:sctl_response", "cells:sctl_response_proba"} <= set(mdata.obs.columns)
    assert not any(c.startswith("bulk:") for c in mdata.obs.columns)
    np.testing.assert_allclose(
        mdata.obs.loc[got.obs_names, "cells:sctl_response_proba"], got.obs["sctl_response_proba"]
    )


def test_predict_response_mudata_copy_and_separate_reference():
    bulk, cells = _bulk_and_cells()
    mdata = _mdata(bulk, cells)
    out = sctl.tl.predict_response(mdata, drug="DrugA", mod="cells", reference_mod="bulk", method="logreg", copy=True)
    assert isinstance(out, mudata.MuData)
    assert "sctl_response" in out.mod["cells"].obs
    assert "sctl_response" not in mdata.mod["cells"].obs
    # reference as a MuData of its own, cells as a plain AnnData
    ref = _mdata_single(bulk)
    sctl.tl.predict_response(cells, ref, "DrugA", method="logreg")
    assert cells.obs["sctl_response"].notna().all()


def test_predict_response_mudata_errors():
    bulk, cells = _bulk_and_cells()
    mdata = _mdata(bulk, cells)
    with pytest.raises(ValueError, match=r"name the one to use with `mod=\.\.\.`"):
        sctl.tl.predict_response(mdata, drug="DrugA", reference_mod="bulk")
    with pytest.raises(KeyError, match="Modality 'rna' not found in `reference`"):
        sctl.tl.predict_response(mdata, drug="DrugA", mod="cells", reference_mod="rna")
    with pytest.raises(ValueError, match="reference_mod='bulk'"):
        sctl.tl.predict_response(mdata, drug="DrugA", mod="cells")
    with pytest.raises(TypeError, match="neither `adata` nor `reference` is a MuData"):
        sctl.tl.predict_response(cells, drug="DrugA", reference_mod="bulk")


def test_score_states_on_mudata():
    markers = sctl.datasets.state_markers()
    genes = list(pd.unique(markers["gene"])) + [f"FILLER{i}" for i in range(50)]
    rng = np.random.default_rng(0)
    cells = AnnData(
        np.log1p(rng.gamma(2.0, 1.0, size=(30, len(genes)))).astype(np.float32),
        obs=pd.DataFrame(index=[f"c{i}" for i in range(30)]),
        var=pd.DataFrame(index=genes),
    )
    expected = sctl.tl.score_states(cells, copy=True)
    other = AnnData(np.zeros((5, 3), dtype=np.float32), obs=pd.DataFrame(index=[f"o{i}" for i in range(5)]))
    mdata = _mdata(other, cells)
    copied = sctl.tl.score_states(mdata, mod="cells", copy=True)
    assert "sctl_states" not in mdata.mod["cells"].obsm
    assert sctl.tl.score_states(mdata, mod="cells") is None
    for result in (mdata, copied):
        got = result.mod["cells"]
        pd.testing.assert_frame_equal(got.obsm["sctl_states"], expected.obsm["sctl_states"])
        np.testing.assert_allclose(got.obs["sctl_resistance_index"], expected.obs["sctl_resistance_index"])
    assert mdata.obs.loc[cells.obs_names, "cells:sctl_state_call"].notna().all()
    with pytest.raises(ValueError, match="2 modalities"):
        sctl.tl.score_states(mdata)
