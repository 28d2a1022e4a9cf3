import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.metrics import auroc
from sctl.tl._screen_drugs import MIN_GROUP_CELLS, rank_groups

SCREEN_COLUMNS = [
    "group",
    "drug",
    "rank",
    "mean_probability",
    "fraction_sensitive",
    "specific_score",
    "n_cells",
    "n_uncertain",
    "trusted",
]


def _bulk_and_cells(seed: int = 0, n_lines: int = 160, n_cells: int = 400, n_genes: int = 60):
    """Bulk lines and cells of one hidden biology: genes g0..g4 drive DrugA, g5..g9 DrugB; DrugC is noise and
    DrugD was tested on 12 lines only (too few to label 5 of each class). The cells form two clusters, ``"A"``
    (higher on g0..g4 than on g5..g9) and ``"B"``, and a ``"rare"`` group of 6 cells."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    weights_a, weights_b = np.zeros(n_genes), np.zeros(n_genes)
    weights_a[:5], weights_b[5:10] = 1.0, 1.0
    bulk_x = rng.normal(size=(n_lines, n_genes))
    few = np.full(n_lines, np.nan)
    few[:12] = rng.normal(size=12)
    response = pd.DataFrame(
        {
            "DrugA": -(bulk_x @ weights_a) + rng.normal(scale=0.5, size=n_lines),
            "DrugB": -(bulk_x @ weights_b) + rng.normal(scale=0.5, size=n_lines),
            "DrugC": rng.normal(size=n_lines),
            "DrugD": few,
        },
        index=[f"line{i}" for i in range(n_lines)],
    )
    bulk = AnnData(bulk_x.astype(np.float32), obs=pd.DataFrame(index=response.index), var=pd.DataFrame(index=genes))
    bulk.obsm["ln_ic50"] = response
    cell_z = rng.normal(size=(n_cells, n_genes))
    cluster = np.where(cell_z @ weights_a > cell_z @ weights_b, "A", "B").astype(object)
    cluster[:6] = "rare"
    cells_x = np.log1p(np.exp(1.0 + 0.4 * cell_z + rng.normal(scale=0.2, size=(1, n_genes))))
    obs = pd.DataFrame(
        {
            "cluster": pd.Categorical(cluster),
            "truth_a": np.where(cell_z @ weights_a > 0, "sensitive", "resistant"),
            "truth_b": np.where(cell_z @ weights_b > 0, "sensitive", "resistant"),
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )
    return bulk, AnnData(cells_x.astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))


def _screen(cells, bulk, **kwargs):
    """``screen_drugs`` with DrugD's expected warning silenced when every drug is screened."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="1 drug.* too few labelled lines")
        return sctl.tl.screen_drugs(cells, bulk, **kwargs)


def test_screen_drugs_writes_every_drug_its_parts_and_a_table():
    bulk, cells = _bulk_and_cells()
    _screen(cells, bulk, groupby="cluster")
    screen = cells.obsm["sctl_drug_screen"]
    assert isinstance(screen, pd.DataFrame)
    assert list(screen.columns) == ["DrugA", "DrugB", "DrugC"]
    assert screen.index.equals(cells.obs_names)
    assert ((screen >= 0) & (screen <= 1)).all().all()
    assert auroc(cells.obs["truth_a"] == "sensitive", screen["DrugA"]) > 0.85
    assert auroc(cells.obs["truth_b"] == "sensitive", screen["DrugB"]) > 0.85
    specific = cells.obsm["sctl_drug_screen_specific"]
    assert specific.shape == (cells.n_obs, 3)
    assert list(specific.columns) == list(screen.columns)
    assert specific.index.equals(cells.obs_names)
    assert np.isfinite(cells.obs["sctl_drug_screen_general"]).all()
    # higher = more sensitive: the specific part of DrugA follows its probability
    assert np.corrcoef(specific["DrugA"], screen["DrugA"])[0, 1] > 0.8
    assert cells.obs["sctl_in_domain"].dtype == bool
    assert np.isfinite(cells.obs["sctl_reference_similarity"]).all()
    params = cells.uns["sctl_drug_screen"]["params"]
    assert params["method"] == "decomposed_ridge"
    assert params["drugs"] == ["DrugA", "DrugB", "DrugC"]
    assert params["groupby"] == "cluster"
    assert params["threshold"] == 0.5
    assert params["n_cells_scored"] == cells.n_obs
    assert "drug" not in params
    assert "domain" in params
    table = cells.uns["sctl_drug_screen"]["groups"]
    assert list(table.columns) == SCREEN_COLUMNS
    assert len(table) == 3 * 3  # groups x drugs
    assert set(table["group"]) == {"A", "B", "rare"}
    for _, rows in table.groupby("group"):
        assert list(rows["rank"]) == [1, 2, 3]  # best first
        assert rows["mean_probability"].is_monotonic_decreasing
    top = table[table["rank"] == 1].set_index("group")["drug"]
    assert top["A"] == "DrugA"
    assert top["B"] == "DrugB"
    a = table[table["group"] == "A"].set_index("drug")
    members = (cells.obs["cluster"] == "A").to_numpy()
    np.testing.assert_allclose(a.loc["DrugA", "mean_probability"], screen["DrugA"][members].mean())
    np.testing.assert_allclose(a.loc["DrugA", "fraction_sensitive"], (screen["DrugA"][members] >= 0.5).mean())
    expected = screen["DrugA"][members].mean() - screen["DrugA"][~members].mean()
    np.testing.assert_allclose(a.loc["DrugA", "specific_score"], expected)
    assert a.loc["DrugA", "specific_score"] > 0 > a.loc["DrugB", "specific_score"]


def test_screen_without_groupby_writes_no_table():
    bulk, cells = _bulk_and_cells()
    _screen(cells, bulk, drugs="DrugB", key_added="sctl_one")
    assert list(cells.obsm["sctl_one"].columns) == ["DrugB"]
    assert "groups" not in cells.uns["sctl_one"]
    assert cells.uns["sctl_one"]["params"]["groupby"] is None
    assert "sctl_one_general" in cells.obs


def test_signature_screen_equals_predict_response_per_drug():
    """Another method is trained once per drug, exactly as predict_response trains it (and writes no parts)."""
    bulk, cells = _bulk_and_cells()
    out = sctl.tl.screen_drugs(cells, bulk, ["DrugA", "DrugB"], method="signature", copy=True)
    for drug in ("DrugA", "DrugB"):
        single = sctl.tl.predict_response(cells, reference=bulk, drug=drug, method="signature", copy=True)
        np.testing.assert_allclose(
            out.obsm["sctl_drug_screen"][drug].to_numpy(), single.obs["sctl_response_proba"].to_numpy(), atol=1e-12
        )
        np.testing.assert_array_equal(out.obs["sctl_in_domain"], single.obs["sctl_in_domain"])
    assert out.uns["sctl_drug_screen"]["params"]["method"] == "signature"
    assert "sctl_drug_screen_general" not in out.obs
    assert "sctl_drug_screen_specific" not in out.obsm


def test_decomposed_screen_equals_predict_response_per_drug():
    """One fit for every drug gives each drug the probabilities of its own predict_response call."""
    bulk, cells = _bulk_and_cells()
    out = _screen(cells, bulk, copy=True)
    for drug in ("DrugA", "DrugB", "DrugC"):
        single = sctl.tl.predict_response(cells, reference=bulk, drug=drug, copy=True)
        np.testing.assert_allclose(
            out.obsm["sctl_drug_screen"][drug].to_numpy(), single.obs["sctl_response_proba"].to_numpy(), atol=1e-9
        )


def test_empty_cells_are_nan_rows_counted_as_uncertain():
    bulk, cells = _bulk_and_cells()
    empty = ["cell10", "cell11", "cell12"]
    cells.X[cells.obs_names.get_indexer(empty)] = 0.0
    with pytest.warns(UserWarning, match="3 of 400 cells have fewer than"):
        _screen(cells, bulk, groupby="cluster")
    screen = cells.obsm["sctl_drug_screen"]
    assert screen.loc[empty].isna().all().all()
    assert screen.drop(empty).notna().all().all()
    assert cells.obs.loc[empty, "sctl_drug_screen_general"].isna().all()
    assert cells.obsm["sctl_drug_screen_specific"].loc[empty].isna().all().all()
    assert not cells.obs.loc[empty, "sctl_in_domain"].any()
    assert cells.uns["sctl_drug_screen"]["params"]["n_cells_too_few_genes"] == 3
    table = cells.uns["sctl_drug_screen"]["groups"]
    for group, rows in table.groupby("group"):
        members = cells.obs["cluster"] == group
        outside = members & ~cells.obs["sctl_in_domain"]  # the empty cells among them
        assert outside[empty].sum() == members[empty].sum()
        assert (rows["n_uncertain"] == outside.sum()).all()
        assert (rows["n_cells"] + rows["n_uncertain"] == members.sum()).all()
        assert rows["mean_probability"].notna().all()


def test_small_group_is_not_trusted():
    bulk, cells = _bulk_and_cells()
    _screen(cells, bulk, groupby="cluster")
    table = cells.uns["sctl_drug_screen"]["groups"]
    trusted = table.groupby("group")["trusted"].agg(["min", "max"])
    assert trusted.loc["rare"].tolist() == [False, False]  # 6 cells < MIN_GROUP_CELLS
    assert trusted.loc["A", "min"]
    assert trusted.loc["B", "min"]
    assert (table.loc[table["group"] == "rare", "n_cells"] == 6).all()


def test_groups_keep_their_own_order():
    bulk, cells = _bulk_and_cells()
    numbers = np.arange(cells.n_obs) % 11  # clusters 0..10: "10" must come after "2"
    cells.obs["number"] = numbers
    cells.obs["named"] = pd.Categorical(np.where(numbers < 5, "late", "early"), categories=["late", "early"])
    cells.obs["mixed"] = [int(n) if n < 5 else "rest" for n in numbers]  # ints and text in one column
    cases = {
        "number": [str(i) for i in range(11)],
        "named": ["late", "early"],
        "mixed": ["0", "1", "2", "3", "4", "rest"],
    }
    for groupby, expected in cases.items():
        _screen(cells, bulk, drugs=["DrugA", "DrugB"], groupby=groupby)
        table = cells.uns["sctl_drug_screen"]["groups"]
        assert list(pd.unique(table["group"])) == expected
        assert all(list(ranks) == [1, 2] for _, ranks in table.groupby("group", sort=False)["rank"])


def test_cells_without_group_are_in_none():
    bulk, cells = _bulk_and_cells()
    cells.obs["cluster"] = cells.obs["cluster"].astype(object)
    cells.obs.loc[cells.obs_names[10:30], "cluster"] = np.nan
    _screen(cells, bulk, groupby="cluster")
    table = cells.uns["sctl_drug_screen"]["groups"]
    assert set(table["group"]) == {"A", "B", "rare"}
    assert table.groupby("group")["n_cells"].first().sum() == cells.n_obs - 20
    cells.obs["empty"] = np.nan
    with pytest.raises(ValueError, match=r"`adata.obs\['empty'\]` holds no group"):
        _screen(cells, bulk, groupby="empty")


def test_rank_groups_trust_rules():
    """Trusted: at least 10 scored cells in the domain and at least 80 % of the group's cells; a group without a
    trusted cell gets NaN means and the last ranks."""
    drugs = ["x", "y"]
    n = 60
    values = np.column_stack([np.linspace(0.1, 0.9, n), np.linspace(0.9, 0.1, n)])
    values[50:] = np.nan  # group "empty": not scored
    screen = pd.DataFrame(values, columns=drugs, index=[f"c{i}" for i in range(n)])
    groups = pd.Series(["ok"] * 20 + ["outside"] * 20 + ["few"] * 10 + ["empty"] * 10, index=screen.index)
    in_domain = np.ones(n, dtype=bool)
    in_domain[20:25] = False  # 15 of 20 in the domain: 75 % < 80 %
    in_domain[40:42] = False  # 8 trusted cells < MIN_GROUP_CELLS
    table = rank_groups(screen, groups, in_domain, threshold=0.5).set_index(["group", "drug"])
    trusted = table["trusted"].groupby("group").first()
    assert trusted.to_dict() == {"ok": True, "outside": False, "few": False, "empty": False}
    assert table.loc[("outside", "x"), "n_cells"] == 15
    assert table.loc[("outside", "x"), "n_uncertain"] == 5
    assert table.loc[("few", "x"), "n_cells"] == MIN_GROUP_CELLS - 2
    assert table.loc["empty", "mean_probability"].isna().all()
    assert sorted(table.loc["empty", "rank"]) == [2, 2]
    np.testing.assert_allclose(table.loc[("ok", "x"), "mean_probability"], values[:20, 0].mean())
    assert table.loc[("ok", "y"), "rank"] == 1  # y is high on the first cells
    np.testing.assert_allclose(table.loc[("ok", "y"), "fraction_sensitive"], (values[:20, 1] >= 0.5).mean())


def test_drug_pair_tumour_ranks_each_subpopulation_s_drug_first():
    """A drug-pair tumour: one sub-population sensitive to Trametinib and resistant to Olaparib, the other the
    reverse. The screen ranks each one's drug above the other's, with a positive drug-specific score."""
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair", n_cells=300, seed=0)
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(detected shared genes|reference genes found|scored together)")
        sctl.tl.screen_drugs(cells, reference, groupby="subpopulation")
    assert cells.obsm["sctl_drug_screen"].shape == (300, 40)
    assert cells.obsm["sctl_drug_screen_specific"].shape == (300, 40)
    assert cells.uns["sctl_drug_screen"]["params"]["skipped_drugs"] == []
    table = cells.uns["sctl_drug_screen"]["groups"].set_index(["group", "drug"])
    assert len(table) == 2 * 40
    for mine, other in (("Trametinib", "Olaparib"), ("Olaparib", "Trametinib")):
        group = f"sensitive to {mine}"
        assert table.loc[(group, mine), "rank"] < table.loc[(group, other), "rank"]
        assert table.loc[(group, mine), "specific_score"] > 0 > table.loc[(group, other), "specific_score"]
        assert table.loc[group, "trusted"].all()
        members = (cells.obs["subpopulation"] == group).to_numpy()
        specific = cells.obsm["sctl_drug_screen_specific"][mine]
        assert specific[members].mean() > specific[~members].mean()  # resistant elsewhere to this drug only
    assert table.loc[("sensitive to Trametinib", "Trametinib"), "rank"] <= 3


def test_unknown_drugs_are_named_with_close_names():
    bulk, cells = _bulk_and_cells()
    with pytest.raises(KeyError, match=r"'DrugAA'.*Did you mean 'DrugA'"):
        sctl.tl.screen_drugs(cells, bulk, ["DrugAA", "DrugB"])
    with pytest.raises(ValueError, match="distinct"):
        sctl.tl.screen_drugs(cells, bulk, ["DrugA", "DrugA"])
    with pytest.raises(ValueError, match="distinct"):
        sctl.tl.screen_drugs(cells, bulk, [])
    assert "sctl_drug_screen" not in cells.obsm


def test_drugs_with_too_few_labelled_lines_are_skipped_and_listed():
    bulk, cells = _bulk_and_cells()
    with pytest.warns(UserWarning, match=r"1 drug\(s\) have too few labelled lines.*'DrugD'"):
        sctl.tl.screen_drugs(cells, bulk)
    assert "DrugD" not in cells.obsm["sctl_drug_screen"].columns
    params = cells.uns["sctl_drug_screen"]["params"]
    assert params["skipped_drugs"] == ["DrugD"]
    assert params["drugs"] == ["DrugA", "DrugB", "DrugC"]
    with pytest.raises(ValueError, match="DrugD"):  # named explicitly: refused, not skipped
        sctl.tl.screen_drugs(cells, bulk, ["DrugA", "DrugD"])
    only_few = bulk.copy()
    only_few.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["DrugD"]]
    with pytest.raises(ValueError, match=r"No drug .* 5 labelled lines of each class"):
        sctl.tl.screen_drugs(cells, only_few)


def test_screen_leaves_inputs_unchanged_and_copy_returns():
    bulk, cells = _bulk_and_cells()
    cells_x, bulk_x = cells.X.copy(), bulk.X.copy()
    obs_columns, response = list(cells.obs.columns), bulk.obsm["ln_ic50"].copy()
    out = _screen(cells, bulk, groupby="cluster", copy=True)
    assert out is not cells
    assert "sctl_drug_screen" in out.obsm
    assert "groups" in out.uns["sctl_drug_screen"]
    assert list(cells.obs.columns) == obs_columns
    assert "sctl_drug_screen" not in cells.obsm
    assert "sctl_drug_screen" not in cells.uns
    np.testing.assert_array_equal(cells.X, cells_x)
    np.testing.assert_array_equal(out.X, cells_x)
    np.testing.assert_array_equal(bulk.X, bulk_x)
    pd.testing.assert_frame_equal(bulk.obsm["ln_ic50"], response)
    assert list(bulk.obs.columns) == []
    assert _screen(cells, bulk) is None
    np.testing.assert_array_equal(cells.X, cells_x)


def test_screen_errors():
    bulk, cells = _bulk_and_cells()
    with pytest.raises(KeyError, match=r"'clusters' not found.*Did you mean 'cluster'"):
        sctl.tl.screen_drugs(cells, bulk, groupby="clusters")
    with pytest.raises(ValueError, match="threshold"):
        sctl.tl.screen_drugs(cells, bulk, threshold=1.0)
    with pytest.raises(ValueError, match="Unknown method 'nonsense'"):
        sctl.tl.screen_drugs(cells, bulk, ["DrugA"], method="nonsense")
    with pytest.raises(KeyError, match="auc"):
        sctl.tl.screen_drugs(cells, bulk, key="auc")
    with pytest.raises(TypeError, match="AnnData"):
        sctl.tl.screen_drugs(cells.X, bulk)
    assert not any(key.startswith("sctl_") for key in [*cells.obs, *cells.obsm, *cells.uns])


def test_multidrug_method_trains_one_network_for_the_screen():
    """``method="multidrug"``: one MultiDrugTransfer of every drug, the same in predict_response and screen_drugs."""
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair", n_cells=200, seed=0)
    reference = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy()
    fast = {"max_epochs": 2, "enable_progress_bar": False}
    screened = sctl.tl.screen_drugs(
        cells, reference, ["Trametinib", "Olaparib"], method="multidrug", train_kwargs=fast, copy=True
    )
    table = screened.obsm["sctl_drug_screen"]
    assert list(table.columns) == ["Trametinib", "Olaparib"]
    scored = table.notna().all(axis=1)
    assert table[scored].stack().between(0, 1).all()
    params = screened.uns["sctl_drug_screen"]["params"]
    assert params["method"] == "multidrug"
    assert params["n_drugs_modelled"] == reference.obsm["ln_ic50"].shape[1]
    single = sctl.tl.predict_response(
        cells, reference, drug="Olaparib", method="multidrug", train_kwargs=fast, copy=True
    )
    np.testing.assert_allclose(single.obs["sctl_response_proba"][scored], table["Olaparib"][scored], atol=1e-6)


def test_multidrug_refuses_unknown_model_kwargs_before_training():
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair", n_cells=200, seed=0)
    before = cells.copy()
    with pytest.raises(ValueError, match=r"'multidrug' does not accept: 'n_layers'.*Accepted names:.*'n_latent'"):
        sctl.tl.predict_response(cells, bulk, drug="Olaparib", method="multidrug", model_kwargs={"n_layers": 3})
    assert (cells.X != before.X).nnz == 0
    assert "sctl_response" not in cells.obs
