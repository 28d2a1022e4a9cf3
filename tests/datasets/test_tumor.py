import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sctl.datasets as ds


@pytest.fixture(scope="module")
def cells():
    return ds.tumor("Dabrafenib", n_cells=600, n_lines=8, seed=0)


def test_tumor_structure(cells):
    assert cells.shape == (600, 2000)
    assert list(cells.var_names) == list(ds.gdsc().var_names)
    assert list(cells.obs["response"].cat.categories) == ["resistant", "sensitive"]
    assert cells.obs["response"].value_counts().to_dict() == {"resistant": 300, "sensitive": 300}
    assert {"cell_line", "tissue", "response", "ln_ic50", "auc"} <= set(cells.obs.columns)
    info = cells.uns["sctl_tumor"]
    assert len(info["cell_lines"]) == 8
    assert len(set(info["cell_lines"])) == 8
    assert info["params"]["drug"] == "Dabrafenib"
    assert info["params"]["seed"] == 0
    assert "semi-synthetic" in info["note"]
    assert set(cells.obs["cell_line"]) == set(info["cell_lines"])
    assert (cells.obs["cell_line"].value_counts() == 75).all()


def test_tumor_counts_and_normalisation(cells):
    counts = cells.layers["counts"]
    assert sparse.issparse(counts)
    assert sparse.issparse(cells.X)
    values = counts.toarray()
    assert (values >= 0).all()
    assert np.array_equal(values, np.round(values))
    assert values.sum(axis=1).min() > 100
    expected = np.log1p(values / values.sum(axis=1, keepdims=True) * 1e4)
    np.testing.assert_allclose(cells.X.toarray(), expected, rtol=1e-5, atol=1e-5)
    assert (values == 0).mean() > 0.1  # sampling zeros plus dropout


def test_tumor_labels_follow_source_lines(cells):
    bulk = ds.gdsc()
    info = cells.uns["sctl_tumor"]
    response = bulk.obsm["ln_ic50"]["Dabrafenib"].dropna()
    low, high = response.quantile(0.3), response.quantile(0.7)
    assert (response[info["sensitive_lines"]] <= low).all()
    assert (response[info["resistant_lines"]] >= high).all()
    per_line = cells.obs.groupby("cell_line", observed=True)["response"].agg(lambda x: set(x))
    for line in info["sensitive_lines"]:
        assert per_line[line] == {"sensitive"}
    np.testing.assert_allclose(
        cells.obs["ln_ic50"].to_numpy(), response.reindex(cells.obs["cell_line"].astype(str)).to_numpy()
    )


def test_tumor_seed_behaviour():
    first = ds.tumor("Trametinib", n_cells=200, seed=3)
    again = ds.tumor("Trametinib", n_cells=200, seed=3)
    other = ds.tumor("Trametinib", n_cells=200, seed=4)
    assert (first.layers["counts"] != again.layers["counts"]).nnz == 0
    assert first.obs.equals(again.obs)
    assert first.uns["sctl_tumor"]["cell_lines"] == again.uns["sctl_tumor"]["cell_lines"]
    assert (first.layers["counts"] != other.layers["counts"]).nnz > 0


def test_tumor_options():
    big = ds.tumor("Dabrafenib", n_cells=2000, seed=1)
    assert big.n_obs == 2000
    odd = ds.tumor("Cisplatin", n_cells=101, n_lines=3, key="auc", k=0.2, dropout=0.0, library_size=500)
    assert odd.obs["response"].value_counts().to_dict() == {"resistant": 51, "sensitive": 50}
    assert len(odd.uns["sctl_tumor"]["sensitive_lines"]) == 1
    assert len(odd.uns["sctl_tumor"]["resistant_lines"]) == 2


def test_tumor_errors():
    with pytest.raises(KeyError, match=r"Drug 'Dabrafenb' is not in .* Did you mean 'Dabrafenib'"):
        ds.tumor("Dabrafenb")
    with pytest.raises(KeyError, match="No response matrix"):
        ds.tumor("Dabrafenib", key="ic50")
    with pytest.raises(ValueError, match="`n_lines` must be at least 2"):
        ds.tumor(n_lines=1)
    with pytest.raises(ValueError, match=r"`n_cells` .* at least `n_lines`"):
        ds.tumor(n_cells=4)
    with pytest.raises(ValueError, match=r"`k` must be in \(0, 0.5\]"):
        ds.tumor(k=0.7)
    with pytest.raises(ValueError, match="too few for 600 lines"):
        ds.tumor(n_lines=600, n_cells=1000)


def test_tumor_writes_h5ad(cells, tmp_path):
    cells.write_h5ad(tmp_path / "tumor.h5ad")


@pytest.fixture(scope="module")
def one_line():
    return ds.tumor("Trametinib", n_cells=300, mode="within_line", seed=2)


def test_within_line_tumour_is_one_line_with_two_subpopulations(one_line):
    bulk = ds.gdsc()
    info = one_line.uns["sctl_tumor"]
    assert one_line.obs["cell_line"].nunique() == 1
    assert info["cell_lines"] == [info["parental_line"]] == list(one_line.obs["cell_line"].unique())
    assert one_line.obs["response"].value_counts().to_dict() == {"resistant": 150, "sensitive": 150}
    assert "ln_ic50" not in one_line.obs  # the cells share one line: its response would say nothing
    # the parental line is sensitive; the program comes from other held-out lines, all kept out of a reference
    response = bulk.obsm["ln_ic50"]["Trametinib"].dropna()
    assert response[info["parental_line"]] <= response.quantile(0.3)
    assert info["parental_line"] not in info["sensitive_lines"]
    assert set(info["held_out_lines"]) == {info["parental_line"], *info["sensitive_lines"], *info["resistant_lines"]}
    # resistant cells sit higher on the resistance program, with a spread inside each sub-population
    program = one_line.obs.groupby("response", observed=True)["resistance_program"]
    assert program.mean()["resistant"] - program.mean()["sensitive"] == pytest.approx(1.0, abs=0.1)
    assert (program.std() > 0.15).all()


def test_within_line_response_follows_the_program_in_expression(one_line):
    """Along the program (resistant minus sensitive lines), resistant cells score higher than sensitive ones."""
    bulk = ds.gdsc()
    info = one_line.uns["sctl_tumor"]
    contrast = bulk[info["resistant_lines"]].X.mean(0) - bulk[info["sensitive_lines"]].X.mean(0)
    X = one_line.X.toarray()
    score = (X - X.mean(0)) @ np.asarray(contrast).ravel()
    resistant = (one_line.obs["response"] == "resistant").to_numpy()
    assert score[resistant].mean() > score[~resistant].mean()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(resistant, score) > 0.7


def test_held_out_tissue_tumour():
    cells = ds.tumor("Docetaxel", n_cells=200, n_lines=6, mode="held_out_tissue", seed=0)
    info = cells.uns["sctl_tumor"]
    bulk = ds.gdsc()
    tissue_lines = bulk.obs_names[bulk.obs["tissue"] == info["tissue"]]
    assert set(info["held_out_lines"]) == set(tissue_lines)
    assert set(info["cell_lines"]) <= set(tissue_lines)
    assert set(cells.obs["tissue"]) == {info["tissue"]}
    chosen = ds.tumor("Docetaxel", n_cells=60, n_lines=4, mode="held_out_tissue", tissue=info["tissue"], seed=1)
    assert chosen.uns["sctl_tumor"]["tissue"] == info["tissue"]
    with pytest.raises(ValueError, match="Tissue 'nowhere' lacks 3 sensitive"):
        ds.tumor("Docetaxel", n_lines=6, mode="held_out_tissue", tissue="nowhere")


def test_realistic_tumor_platform():
    cells = ds.realistic_tumor("Dabrafenib", n_cells=400, seed=0)
    plain = ds.tumor("Dabrafenib", n_cells=400, mode="within_line", seed=0)
    assert cells.shape == (400, 800)
    assert cells.var_names.isin(ds.gdsc().var_names).all()
    assert cells.uns["sctl_tumor"]["params"]["mode"] == "within_line"
    # a droplet-like platform: more zeros and more spread library sizes than the plain tumour (on all genes)
    full = ds.realistic_tumor("Dabrafenib", n_cells=400, seed=0, n_genes=None)
    assert (full.layers["counts"].toarray() == 0).mean() > (plain.layers["counts"].toarray() == 0).mean() + 0.01
    log_library = np.log(np.asarray(full.layers["counts"].sum(1)).ravel())
    assert log_library.std() > 1.3 * np.log(np.asarray(plain.layers["counts"].sum(1)).ravel()).std()
    # the panel keeps the most variable genes
    variance = np.asarray(full.X.power(2).mean(0)).ravel() - np.asarray(full.X.mean(0)).ravel() ** 2
    assert set(cells.var_names) == set(full.var_names[np.argsort(-variance)[:800]])
    with pytest.raises(ValueError, match="Unknown `mode` 'one_line'"):
        ds.tumor(mode="one_line")
    with pytest.raises(ValueError, match="`n_genes` must be a positive"):
        ds.tumor(n_cells=20, n_lines=2, n_genes=0)


PAIR = ["Dabrafenib", "Docetaxel"]


def _oracle_scores(cells, programs):
    """Each drug's score: minus the cells' projection on its program (resistant minus sensitive lines)."""
    bulk = ds.gdsc()
    X = cells.X.toarray()
    X -= X.mean(0)
    scores = {}
    for drug, lines in programs.items():
        contrast = bulk[lines["resistant_lines"]].X.mean(0) - bulk[lines["sensitive_lines"]].X.mean(0)
        scores[drug] = -(X @ np.asarray(contrast).ravel())
    return pd.DataFrame(scores, index=cells.obs_names)


@pytest.fixture(scope="module")
def pair():
    return ds.tumor(PAIR, n_cells=300, mode="drug_pair", seed=1)


def test_drug_pair_tumour_has_opposite_subpopulations(pair):
    from sctl.metrics import drug_specificity
    from sctl.pp._specific import split_response

    info = pair.uns["sctl_tumor"]
    assert pair.obs["cell_line"].nunique() == 1
    assert info["cell_lines"] == [info["parental_line"]]
    assert info["drugs"] == PAIR
    assert info["subpopulations"] == "specific"
    assert pair.uns["sctl_tumor"]["params"]["drug"] == PAIR
    truth = pair.obsm["response"]
    assert list(truth.columns) == PAIR
    for drug in PAIR:
        assert truth[drug].equals(pair.obs[f"response_{drug}"])
        assert truth[drug].value_counts().to_dict() == {"resistant": 150, "sensitive": 150}
    assert pair.obs["response"].equals(pair.obs["response_Dabrafenib"])
    # opposite: the cells sensitive to one drug are resistant to the other
    assert ((truth["Dabrafenib"] == "sensitive") == (truth["Docetaxel"] == "resistant")).all()
    # the programs come from the drug-SPECIFIC responses; every line behind them is held out
    specific, general = split_response(ds.gdsc().obsm["ln_ic50"])
    axes = {**specific[PAIR], "general": general}
    assert set(info["programs"]) == {*PAIR, "general"}
    for name, lines in info["programs"].items():
        assert axes[name][lines["sensitive_lines"]].max() < axes[name][lines["resistant_lines"]].min()
        assert set(lines["sensitive_lines"]) | set(lines["resistant_lines"]) <= set(info["held_out_lines"])
    # general_shift: the first drug's sensitive cells also sit lower (more sensitive) on the general program
    shift = pair.obs.groupby("response_Dabrafenib", observed=True)["program_general"].mean()
    assert shift["resistant"] - shift["sensitive"] == pytest.approx(0.5, abs=0.1)
    pure = ds.tumor(PAIR, n_cells=50, mode="drug_pair", general_shift=0.0, seed=1)
    assert set(pure.uns["sctl_tumor"]["programs"]) == set(PAIR)
    assert "program_general" not in pure.obs
    assert info["parental_line"] in info["held_out_lines"]
    # a drug-specific oracle separates both drugs; a drug-blind score is at chance
    oracle = _oracle_scores(pair, {drug: info["programs"][drug] for drug in PAIR})
    assert drug_specificity(truth, oracle) > 0.9
    blind = pd.DataFrame({drug: oracle["Dabrafenib"] for drug in PAIR})
    assert drug_specificity(truth, blind) == pytest.approx(0.5)


def test_drug_pair_general_subpopulations_and_panels(tmp_path):
    from sctl.metrics import drug_specificity

    general = ds.tumor(PAIR, n_cells=200, mode="drug_pair", subpopulations="general", seed=0)
    info = general.uns["sctl_tumor"]
    assert list(info["programs"]) == ["general"]
    truth = general.obsm["response"]
    assert truth["Dabrafenib"].equals(truth["Docetaxel"].rename("Dabrafenib"))  # resistant to all or to none
    oracle = _oracle_scores(general, {drug: info["programs"]["general"] for drug in PAIR})
    assert drug_specificity(truth, oracle) > 0.9  # a drug-blind general score handles it
    panel = ds.realistic_tumor(["Dabrafenib", "Docetaxel", "Olaparib"], mode="drug_pair", n_cells=90, seed=0)
    assert panel.shape == (90, 800)
    assert (panel.obsm["response"] == "sensitive").sum(axis=1).eq(1).all()  # each cell sensitive to one drug
    assert (panel.obsm["response"] == "sensitive").sum().to_dict() == {
        "Dabrafenib": 30,
        "Docetaxel": 30,
        "Olaparib": 30,
    }
    panel.write_h5ad(tmp_path / "panel.h5ad")
    again = ds.tumor(PAIR, n_cells=200, mode="drug_pair", subpopulations="general", seed=0)
    assert (general.layers["counts"] != again.layers["counts"]).nnz == 0


def test_drug_pair_errors():
    with pytest.raises(ValueError, match="need `mode='drug_pair'`"):
        ds.tumor(PAIR, mode="within_line")
    with pytest.raises(ValueError, match="two or more distinct drugs"):
        ds.tumor(["Dabrafenib"], mode="drug_pair")
    with pytest.raises(ValueError, match="two or more distinct drugs"):
        ds.tumor(["Dabrafenib", "Dabrafenib"], mode="drug_pair")
    with pytest.raises(ValueError, match="`general_shift` must be >= 0"):
        ds.tumor(PAIR, mode="drug_pair", general_shift=-1)
    with pytest.raises(ValueError, match="Unknown `subpopulations` 'both'"):
        ds.tumor(PAIR, mode="drug_pair", subpopulations="both")
    with pytest.raises(KeyError, match="Did you mean 'Docetaxel'"):
        ds.tumor(["Dabrafenib", "Docetaxl"], mode="drug_pair")
