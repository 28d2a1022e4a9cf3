"""sctl.tl.attention_similarity / sctl.pl.attention_similarity: CSG²A attention maps compared by mechanism of action."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import sctl
from sctl.models import CSG2A

KEY = "sctl_attention_similarity"
DRUGS = ["trametinib", "PD-0325901", "PLX-4720", "buparlisib", "NVP-BEZ235", "dasatinib"]


@pytest.fixture(scope="module")
def trained():
    """A CSG²A on 40 landmark genes of the L1000 plate, one epoch, and the SMILES of the plate drugs."""
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)[:40]
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    plate = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    CSG2A.setup_anndata(plate, drug_key="drug", smiles=smiles)
    model = CSG2A(plate, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    return plate[:4].copy(), model, smiles


def test_correlation_matrix_and_shipped_moa(trained):
    basal, model, smiles = trained
    sctl.tl.attention_similarity(basal, model, DRUGS, dose=1.0, n_perms=200)
    result = basal.uns[KEY]
    corr = result["correlation"]
    assert corr.shape == (6, 6)
    assert list(corr.index) == list(corr.columns) == DRUGS
    np.testing.assert_array_equal(corr.to_numpy(), corr.to_numpy().T)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert np.all(np.abs(corr.to_numpy()) <= 1 + 1e-12)
    # one entry recomputed from the model's public maps
    a, b = (model.get_attention(basal, smiles=smiles[d], dose=1.0, time=24.0).to_numpy() for d in DRUGS[:2])
    off = ~np.eye(40, dtype=bool)
    assert corr.iloc[0, 1] == pytest.approx(np.corrcoef(a[off], b[off])[0, 1], abs=1e-6)
    # MoA from the GDSC annotation shipped with sctl (TARGET_PATHWAY), matched on the L1000 names
    moa = result["moa"]["moa"]
    assert moa["trametinib"] == moa["PD-0325901"] == moa["PLX-4720"] == "ERK MAPK signaling"
    assert moa["buparlisib"] == moa["NVP-BEZ235"] == "PI3K/MTOR signaling"
    assert moa["dasatinib"] == "Other"
    pairs = result["pairs"]
    assert len(pairs) == 15
    assert pairs["same_moa"].sum() == 3 + 1  # three ERK MAPK pairs and one PI3K/MTOR pair
    test = result["test"]
    assert test["n_within"] == 4
    assert test["n_between"] == 11
    within = pairs.loc[pairs["same_moa"], "correlation"].mean()
    between = pairs.loc[~pairs["same_moa"], "correlation"].mean()
    assert test["within_mean"] == pytest.approx(within)
    assert test["difference"] == pytest.approx(within - between)
    assert 1 / 201 <= test["pvalue"] <= 1
    assert result["params"]["moa"] == "pathway"
    assert result["params"]["dose"] == 1.0


def test_same_moa_more_similar_is_significant(trained):
    """Three compounds under three aliases each, MoA = compound: within pairs have identical maps."""
    basal, model, smiles = trained
    drugs = {f"{d}_{k}": smiles[d] for d in ("trametinib", "dasatinib", "buparlisib") for k in range(3)}
    by_compound = {name: name.rsplit("_", 1)[0] for name in drugs}
    sctl.tl.attention_similarity(basal, model, drugs, moa=by_compound, dose=1.0)
    test = basal.uns[KEY]["test"]
    assert test["within_mean"] == pytest.approx(1.0)
    assert test["between_mean"] < 1.0
    assert test["difference"] > 0
    # only the 1/280 labellings that keep the three groups reach the observed difference
    assert test["pvalue"] < 0.05
    assert test["n_within"] == 9
    assert test["n_between"] == 27
    # labels that cut across the compounds: within pairs are always different compounds
    across = {name: f"class{name.rsplit('_', 1)[1]}" for name in drugs}
    sctl.tl.attention_similarity(basal, model, drugs, moa=across, dose=1.0)
    test = basal.uns[KEY]["test"]
    assert test["difference"] < 0
    assert test["pvalue"] > 0.5
    # seeded
    first = sctl.tl.attention_similarity(basal, model, drugs, moa=by_compound, dose=1.0, n_perms=50, copy=True)
    again = sctl.tl.attention_similarity(basal, model, drugs, moa=by_compound, dose=1.0, n_perms=50, copy=True)
    assert first.uns[KEY]["test"]["pvalue"] == again.uns[KEY]["test"]["pvalue"]


def test_spearman_copy_and_missing_test(trained):
    basal, model, _ = trained
    fresh = basal.copy()
    fresh.uns.pop(KEY, None)
    moa = {"trametinib": "a", "PD-0325901": "a", "PLX-4720": "c"}
    out = sctl.tl.attention_similarity(fresh, model, DRUGS[:3], moa=moa, method="spearman", copy=True, n_perms=10)
    assert KEY not in fresh.uns  # copy=True leaves the input alone
    spearman = out.uns[KEY]["correlation"]
    np.testing.assert_allclose(np.diag(spearman), 1.0)
    np.testing.assert_array_equal(spearman.to_numpy(), spearman.to_numpy().T)
    assert out.uns[KEY]["params"]["method"] == "spearman"
    assert out.uns[KEY]["test"]["n_within"] == 1
    pearson = sctl.tl.attention_similarity(fresh, model, DRUGS[:3], moa=moa, copy=True, n_perms=10)
    assert not np.allclose(spearman.to_numpy(), pearson.uns[KEY]["correlation"].to_numpy())
    with pytest.warns(UserWarning, match="at least one MoA with two drugs"):
        out = sctl.tl.attention_similarity(
            basal, model, DRUGS[:3], moa={"trametinib": "a", "PD-0325901": "b", "PLX-4720": "c"}, copy=True
        )
    assert np.isnan(out.uns[KEY]["test"]["pvalue"])
    assert out.uns[KEY]["test"]["n_within"] == 0


def test_bad_input(trained):
    basal, model, _ = trained
    with pytest.raises(KeyError, match=r"No mechanism of action for 'PD-0325901'.*Pass `moa=`"):
        sctl.tl.attention_similarity(basal, model, DRUGS[:2], moa={"trametinib": "MEK"})
    with pytest.raises(KeyError, match="not a column"):
        sctl.tl.attention_similarity(basal, model, DRUGS[:2], moa="no_such_column")
    with pytest.raises(ValueError, match="at least two drugs"):
        sctl.tl.attention_similarity(basal, model, ["trametinib"])
    with pytest.raises(ValueError, match="twice"):
        sctl.tl.attention_similarity(basal, model, ["trametinib", "trametinib"])
    with pytest.raises(TypeError, match="get_attention"):
        sctl.tl.attention_similarity(basal, object(), DRUGS)
    with pytest.raises(KeyError, match="No SMILES"):
        sctl.tl.attention_similarity(basal, model, ["trametinib", "not-a-drug"])
    with pytest.raises(ValueError, match="`method`"):
        sctl.tl.attention_similarity(basal, model, DRUGS, method="kendall")
    with pytest.raises(KeyError, match=r"run `sctl\.tl\.attention_similarity"):
        sctl.pl.attention_similarity(basal.copy(), key="nothing", show=False)


def test_plot_renders(trained, tmp_path):
    basal, model, _ = trained
    sctl.tl.attention_similarity(basal, model, DRUGS, dose=1.0, n_perms=50)
    path = tmp_path / "similarity.png"
    fig = sctl.pl.attention_similarity(basal, save=path)
    assert path.exists()
    assert path.stat().st_size > 0
    heat = next(ax for ax in fig.axes if ax.get_label() == "correlation")
    shown = heat.images[0].get_array()
    assert shown.shape == (6, 6)
    order = [t.get_text() for t in heat.get_xticklabels()]
    assert sorted(order) == sorted(DRUGS)
    corr = basal.uns[KEY]["correlation"]
    np.testing.assert_allclose(shown, corr.loc[order, order].to_numpy())  # the clustered order, same values
    colour_bars = [ax for ax in fig.axes if ax.images and ax.images[0].get_array().shape in ((1, 6), (6, 1))]
    assert len(colour_bars) == 2  # the MoA bars beside both axes
    box = next(ax for ax in fig.axes if ax.get_title().startswith("Within vs between MoA"))
    assert "p = " in box.get_title()
    plt.close(fig)
    plain = sctl.pl.attention_similarity(basal, cluster=False, show=False)
    heat = next(ax for ax in plain.axes if ax.get_label() == "correlation")
    assert [t.get_text() for t in heat.get_xticklabels()] == DRUGS
    plt.close(plain)


def test_model_knows_its_setup_smiles(trained):
    basal, model, smiles = trained
    assert model.drug_smiles_ == smiles
    assert sctl.tl.drug_smiles(basal, model, ["dasatinib"]) == {"dasatinib": smiles["dasatinib"]}
