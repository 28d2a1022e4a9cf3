import logging

import numpy as np
import pandas as pd
import pytest

import sctl

PAIR_SCHEMES = ["mixed", "cell_blind", "drug_blind", "disjoint", "tissue_blind"]


def _observed_pairs(adata, key="ln_ic50"):
    response = adata.obsm[key]
    return {(line, drug) for drug in response for line in response.index[response[drug].notna()]}


@pytest.mark.parametrize("scheme", PAIR_SCHEMES)
def test_pair_table_covers_every_observed_pair(bulk, scheme):
    sctl.pp.split(bulk, scheme, n_folds=3, seed=0)
    entry = bulk.uns["sctl_split"]
    pairs = entry["pairs"]
    assert {"cell_line", "drug", "ln_ic50", "fold"} <= set(pairs.columns)
    assert set(zip(pairs["cell_line"], pairs["drug"], strict=True)) == _observed_pairs(bulk)
    assert len(pairs) == bulk.obsm["ln_ic50"].notna().to_numpy().sum()
    response = bulk.obsm["ln_ic50"]
    assert all(
        response.loc[line, drug] == value
        for line, drug, value in pairs[["cell_line", "drug", "ln_ic50"]].to_numpy()[:20]
    )
    assert entry["params"]["scheme"] == scheme
    assert entry["params"]["n_folds"] == 3
    assert sum(entry["fold_sizes"]) == (pairs["fold"] >= 0).sum()
    if scheme != "disjoint":  # every pair is tested exactly once
        assert set(pairs["fold"]) == {0, 1, 2}


@pytest.mark.parametrize(
    ("scheme", "column"), [("cell_blind", "cell_line"), ("drug_blind", "drug"), ("tissue_blind", "tissue")]
)
def test_grouped_schemes_never_share_a_group(bulk, scheme, column):
    sctl.pp.split(bulk, scheme, n_folds=3 if scheme != "drug_blind" else 2, seed=1)
    pairs = bulk.uns["sctl_split"]["pairs"].copy()
    pairs["tissue"] = bulk.obs["tissue"].astype(str).reindex(pairs["cell_line"]).to_numpy()
    assert (pairs.groupby(column)["fold"].nunique() == 1).all()
    for train, test in sctl.pp.iter_folds(bulk):
        assert not set(pairs[column].iloc[train]) & set(pairs[column].iloc[test])
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == len(pairs)


def test_disjoint_has_neither_line_nor_drug_in_common(bulk, caplog):
    with caplog.at_level(logging.WARNING, logger="sctl"):
        sctl.pp.split(bulk, "disjoint", n_folds=2, seed=0)
    entry = bulk.uns["sctl_split"]
    pairs = entry["pairs"]
    excluded = (pairs["fold"] == -1).sum()
    assert excluded == entry["n_excluded"] > 0
    assert f"{excluded} of {len(pairs)} pairs" in caplog.text
    np.testing.assert_array_equal(pairs["fold"] >= 0, pairs["line_fold"] == pairs["drug_fold"])
    tested = np.zeros(len(pairs), dtype=int)
    for train, test in sctl.pp.iter_folds(bulk):
        assert len(test) > 0
        assert len(train) > 0
        assert not set(pairs["cell_line"].iloc[train]) & set(pairs["cell_line"].iloc[test])
        assert not set(pairs["drug"].iloc[train]) & set(pairs["drug"].iloc[test])
        tested[test] += 1
    np.testing.assert_array_equal(tested, (pairs["fold"] >= 0).astype(int))  # each kept pair tested once


def test_mixed_folds_are_balanced_and_split_pairs(bulk):
    sctl.pp.split(bulk, n_folds=4, seed=0)
    sizes = bulk.uns["sctl_split"]["fold_sizes"]
    assert max(sizes) - min(sizes) <= 1
    pairs = bulk.uns["sctl_split"]["pairs"]
    assert (pairs.groupby("cell_line")["fold"].nunique() > 1).any()  # lines are shared, only pairs are new


@pytest.mark.parametrize("scheme", [*PAIR_SCHEMES])
def test_split_is_deterministic_by_seed(bulk, scheme):
    a = sctl.pp.split(bulk, scheme, n_folds=2, seed=3, copy=True).uns["sctl_split"]["pairs"]
    b = sctl.pp.split(bulk, scheme, n_folds=2, seed=3, copy=True).uns["sctl_split"]["pairs"]
    pd.testing.assert_frame_equal(a, b)
    if scheme != "drug_blind":  # 4 drugs in 2 folds: few distinct assignments
        c = sctl.pp.split(bulk, scheme, n_folds=2, seed=4, copy=True).uns["sctl_split"]["pairs"]
        others = [
            sctl.pp.split(bulk, scheme, n_folds=2, seed=s, copy=True).uns["sctl_split"]["pairs"] for s in range(5, 9)
        ]
        assert any(not a["fold"].equals(other["fold"]) for other in [c, *others])


def test_stratified_folds_keep_class_proportions(bulk, unchanged):
    sctl.pp.binarize_response(bulk, "DrugA", k=0.3)
    before = bulk.copy()
    out = sctl.pp.split(bulk, "stratified", n_folds=3, label_key="sctl_label", seed=0, copy=True)
    unchanged(before, bulk)
    folds = out.obs["sctl_split"]
    labelled = bulk.obs["sctl_label"].notna()
    assert (folds[~labelled] == -1).all()
    assert set(folds[labelled]) == {0, 1, 2}
    for fold in range(3):
        counts = bulk.obs["sctl_label"][folds == fold].value_counts()
        assert counts.min() >= 3
        assert counts.max() - counts.min() <= 1
    for train, test in sctl.pp.iter_folds(out):
        assert len(np.intersect1d(train, test)) == 0
        assert labelled.iloc[train].all()
        assert labelled.iloc[test].all()
        assert len(train) + len(test) == labelled.sum()
    again = sctl.pp.split(bulk, "stratified", n_folds=3, label_key="sctl_label", seed=0, copy=True)
    np.testing.assert_array_equal(again.obs["sctl_split"], folds)


def test_split_writes_under_key_added_and_roundtrips_h5ad(bulk, tmp_path):
    import anndata as ad

    sctl.pp.split(bulk, "disjoint", n_folds=2, key_added="sctl_cv")
    path = tmp_path / "bulk.h5ad"
    bulk.write_h5ad(path)
    back = ad.read_h5ad(path)
    original = [(tr.tolist(), te.tolist()) for tr, te in sctl.pp.iter_folds(bulk, key_added="sctl_cv")]
    assert [(tr.tolist(), te.tolist()) for tr, te in sctl.pp.iter_folds(back, key_added="sctl_cv")] == original


def test_split_errors(bulk):
    with pytest.raises(ValueError, match=r"Unknown split scheme 'random'.*'mixed'.*'stratified'"):
        sctl.pp.split(bulk, "random")
    with pytest.raises(ValueError, match=r"n_folds=5 is more than the 4 drugs"):
        sctl.pp.split(bulk, "drug_blind", n_folds=5)
    with pytest.raises(ValueError, match=r"n_folds=5 is more than the 4 tissues"):
        sctl.pp.split(bulk, "tissue_blind", n_folds=5)
    with pytest.raises(ValueError, match="at least 2"):
        sctl.pp.split(bulk, n_folds=1)
    with pytest.raises(ValueError, match="label_key="):
        sctl.pp.split(bulk, "stratified")
    with pytest.raises(KeyError, match="sctl_label"):
        sctl.pp.split(bulk, "stratified", label_key="sctl_label")
    sctl.pp.binarize_response(bulk, "DrugA", k=0.1)  # 4 lines per class
    with pytest.raises(ValueError, match=r"n_folds=5 is more than the 4 observations"):
        sctl.pp.split(bulk, "stratified", label_key="sctl_label", n_folds=5)
    with pytest.raises(KeyError, match="tumour_type"):
        sctl.pp.split(bulk, "tissue_blind", tissue_key="tumour_type")
    no_tissue = bulk.copy()
    no_tissue.obs["tissue"] = no_tissue.obs["tissue"].astype(object)
    no_tissue.obs.iloc[3, no_tissue.obs.columns.get_loc("tissue")] = np.nan
    with pytest.raises(ValueError, match=r"1 tested cell lines have no tissue.*'line3'"):
        sctl.pp.split(no_tissue, "tissue_blind", n_folds=2)
    with pytest.raises(KeyError, match="auc2"):
        sctl.pp.split(bulk, key="auc2")
    with pytest.warns(UserWarning, match="label_key"):
        sctl.pp.split(bulk, "mixed", label_key="sctl_label", copy=True)
    with pytest.raises(KeyError, match=r"sctl.pp.split"):
        next(sctl.pp.iter_folds(bulk))
    assert "sctl_split" not in bulk.uns
