import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


@pytest.fixture
def plate() -> AnnData:
    return sctl.datasets.lincs()


def _two_lines(with_controls_b: bool = True) -> AnnData:
    rng = np.random.default_rng(0)
    obs = pd.DataFrame(
        {
            "cell_line": ["A"] * 4 + ["B"] * 4,
            "drug": ["DMSO", "DMSO", "x", "y", "DMSO" if with_controls_b else "x", "x", "y", "x"],
            "plate": ["p1", "p2", "p1", "p2", "p1", "p1", "p1", "p1"],
        },
        index=[f"s{i}" for i in range(8)],
    )
    X = rng.uniform(1, 5, size=(8, 3)).astype(np.float32)
    return AnnData(X, obs=obs, var=pd.DataFrame(index=["g1", "g2", "g3"]))


def test_match_controls_lincs_mean_of_dmso(plate):
    sctl.pp.match_controls(plate, control="DMSO", batch_key="plate")
    dmso = plate.X[plate.obs["drug"].eq("DMSO").to_numpy()].mean(0)
    np.testing.assert_allclose(plate.layers["sctl_basal"], np.tile(dmso, (plate.n_obs, 1)), rtol=1e-5)
    assert (plate.obs["sctl_basal_n_controls"] == 26).all()
    assert plate.uns["sctl_basal"]["params"]["batch_key"] == "plate"


def test_match_controls_flag_equals_name(plate):
    by_name = sctl.pp.match_controls(plate, control="DMSO", copy=True)
    by_flag = sctl.pp.match_controls(plate, copy=True)
    np.testing.assert_array_equal(by_name.layers["sctl_basal"], by_flag.layers["sctl_basal"])
    assert "sctl_basal" not in plate.layers  # copy=True leaves the input alone


def test_match_controls_groups_and_batches():
    adata = _two_lines()
    sctl.pp.match_controls(adata, control="DMSO")
    np.testing.assert_allclose(adata.layers["sctl_basal"][2], adata.X[:2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(adata.layers["sctl_basal"][5], adata.X[4], rtol=1e-6)
    sctl.pp.match_controls(adata, control="DMSO", batch_key="plate")
    np.testing.assert_allclose(adata.layers["sctl_basal"][3], adata.X[1], rtol=1e-6)  # A, p2: the p2 control only


def test_match_controls_names_unmatched_profiles():
    with pytest.raises(ValueError, match=r"4 treated profiles have no control.*s4 \(cell_line=B\)"):
        sctl.pp.match_controls(_two_lines(with_controls_b=False), control="DMSO")


def test_match_controls_unknown_control(plate):
    with pytest.raises(ValueError, match="No control profile"):
        sctl.pp.match_controls(plate, control="vehicle")
    with pytest.raises(KeyError, match="cell_type"):
        sctl.pp.match_controls(plate, control="DMSO", group_keys=("cell_type",))


def test_log_fold_change_difference(plate):
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    np.testing.assert_allclose(plate.layers["sctl_delta"], plate.X - plate.layers["sctl_basal"], atol=1e-5)
    assert plate.uns["sctl_delta"]["params"]["kind"] == "difference"


def test_log_fold_change_log2fc_and_errors():
    adata = _two_lines()
    sctl.pp.match_controls(adata, control="DMSO")
    out = sctl.pp.log_fold_change(adata, kind="log2fc", copy=True)
    expected = np.log2((adata.X + 1) / (adata.layers["sctl_basal"] + 1))
    np.testing.assert_allclose(out.layers["sctl_delta"], expected, rtol=1e-5)
    adata.X = adata.X - 10
    with pytest.raises(ValueError, match="non-negative"):
        sctl.pp.log_fold_change(adata, kind="log2fc")
    with pytest.raises(KeyError, match="match_controls"):
        sctl.pp.log_fold_change(_two_lines())
    with pytest.raises(ValueError, match="Unknown `kind`"):
        sctl.pp.log_fold_change(adata, kind="ratio")


def test_de_table_wide_and_long_agree(tmp_path):
    wide = pd.DataFrame(
        {
            "cell_type": ["NK cells", "T cells", "NK cells"],
            "sm_name": ["Clotrimazole", "Clotrimazole", "Belinostat"],
            "sm_lincs_id": ["LSM-5341", "LSM-5341", "LSM-3828"],
            "SMILES": ["Clc1ccccc1", "Clc1ccccc1", "O=C(CCCCCCC)NO"],
            "control": [False, False, True],
            "A1BG": [0.1, 0.9, -0.4],
            "ZYX": [-1.6, 0.4, 4.3],
        }
    )
    adata = sctl.pp.de_to_anndata(wide)
    assert adata.shape == (3, 2)
    assert list(adata.var_names) == ["A1BG", "ZYX"]
    assert adata.obs_names[0] == "NK cells|Clotrimazole"
    assert {"sm_lincs_id", "SMILES", "control"} <= set(adata.obs.columns)
    long = wide.melt(id_vars=["cell_type", "sm_name", "sm_lincs_id"], value_vars=["A1BG", "ZYX"], var_name="gene")
    from_long = sctl.pp.de_to_anndata(long, value_key="value", meta_keys=["sm_lincs_id"])
    np.testing.assert_allclose(from_long[adata.obs_names, adata.var_names].X, adata.X)
    path = tmp_path / "de_train.csv"
    wide.to_csv(path, index=False)
    np.testing.assert_allclose(sctl.pp.read_de_table(path).X, adata.X)


def test_de_table_limma_signed_p_and_errors():
    long = pd.DataFrame(
        {"cell_type": "B", "sm_name": "D", "gene": ["g1", "g2"], "logFC": [2.0, -1.0], "P.Value": [1e-3, 0.1]}
    )
    np.testing.assert_allclose(sctl.pp.de_to_anndata(long).X, [[3.0, -1.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="value_key"):
        sctl.pp.de_to_anndata(long.drop(columns="P.Value"))
    with pytest.raises(ValueError, match="several rows"):
        sctl.pp.de_to_anndata(pd.concat([long, long]))
    with pytest.raises(ValueError, match="missing"):
        sctl.pp.de_to_anndata(pd.concat([long, long.assign(sm_name="E").iloc[:1]]))
    with pytest.raises(KeyError, match="cell_type"):
        sctl.pp.de_to_anndata(long.drop(columns="cell_type"))
