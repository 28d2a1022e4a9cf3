import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import sctl
from sctl.metrics import perturbation_report
from sctl.models import SeqPerturb
from sctl.models.seqperturb import ENCODERS

torch.set_num_threads(1)
HELD_OUT_DOSE = 1.11


@pytest.fixture(scope="module")
def split() -> tuple[AnnData, AnnData]:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    test = treated.obs["dose"].eq(HELD_OUT_DOSE).to_numpy()
    return treated[~test].copy(), treated[test].copy()


@pytest.fixture(scope="module")
def tiny(split) -> SeqPerturb:
    train = split[0].copy()
    SeqPerturb.setup_anndata(train, compound_id_key="pert_id", dose_key="dose")
    model = SeqPerturb(train, encoder="gru")
    model.train(max_epochs=1, batch_size=64)
    return model


@pytest.mark.parametrize("encoder", ENCODERS)
def test_every_encoder_wires(split, encoder):
    train = split[0].copy()
    SeqPerturb.setup_anndata(train, extra_keys=["pert_id"], dose_key="dose")
    model = SeqPerturb(train, encoder=encoder)
    model.train(max_epochs=1, batch_size=64)
    pred = model.predict(split[1])
    assert pred.shape == split[1].shape
    assert list(pred.columns) == list(split[1].var_names)
    assert np.isfinite(pred.to_numpy()).all()


def test_predict_writes_nothing_and_takes_condition_tables(tiny, split):
    test = split[1]
    before = (set(test.layers), set(test.obs.columns), set(test.uns))
    pred = tiny.predict(test)
    assert (set(test.layers), set(test.obs.columns), set(test.uns)) == before
    conditions = test.obs[["cell_line", "drug", "pert_id", "dose"]].iloc[:3]
    np.testing.assert_allclose(tiny.predict(conditions).to_numpy(), pred.to_numpy()[:3], atol=1e-6)


def test_unknown_compound_and_missing_dose(tiny, split):
    with pytest.raises(KeyError, match=r"(?s)Unknown value of 'drug' 'aspirin'.*vemurafenib.*CSG2A"):
        tiny.predict(split[1], drug="aspirin")
    no_dose = split[1].obs.drop(columns="dose")
    with pytest.raises(KeyError, match="dose"):
        tiny.predict(no_dose)
    assert tiny.predict(no_dose, dose=2.0).shape[0] == len(no_dose)


def test_save_load_round_trip(tiny, split, tmp_path):
    tiny.save(tmp_path / "seq")
    loaded = SeqPerturb.load(tmp_path / "seq")
    np.testing.assert_allclose(loaded.predict(split[1]).to_numpy(), tiny.predict(split[1]).to_numpy(), atol=1e-6)
    assert loaded.categories == tiny.categories


def test_same_seed_same_numbers(split):
    preds = []
    for _ in range(2):
        train = split[0].copy()
        SeqPerturb.setup_anndata(train, dose_key="dose")
        model = SeqPerturb(train, encoder="gru_attention", seed=1)
        model.train(max_epochs=2, batch_size=64, seed=1)
        preds.append(model.predict(split[1]).to_numpy())
    np.testing.assert_array_equal(preds[0], preds[1])


def test_own_column_names_in_any_alphabetical_order(split, tmp_path):
    # "line" sorts after "drug": the tokens must still follow the registered order (found by tutorial 04)
    train, test = (part.copy() for part in split)
    for part in (train, test):
        part.obs = part.obs.rename(columns={"cell_line": "line", "drug": "compound"})
    SeqPerturb.setup_anndata(train, cell_type_key="line", compound_key="compound", dose_key="dose")
    model = SeqPerturb(train, encoder="gru")
    assert list(model.categories) == ["line", "compound"]
    assert [len(v) for v in model.categories.values()] == [1, train.obs["compound"].nunique()]
    model.train(max_epochs=1, batch_size=64)
    pred = model.predict(test)
    assert pred.shape == test.shape
    assert np.isfinite(pred.to_numpy()).all()
    model.save(tmp_path / "seq")
    np.testing.assert_allclose(SeqPerturb.load(tmp_path / "seq").predict(test).to_numpy(), pred.to_numpy(), atol=1e-6)


def test_de_table_target_with_smiles(tmp_path):
    rng = np.random.default_rng(0)
    pairs = [(c, d) for c in ("NK cells", "T cells", "B cells") for d in ("Clotrimazole", "Belinostat", "Dabrafenib")]
    smiles = {
        "Clotrimazole": "Clc1ccccc1C(c1ccccc1)n1ccnc1",
        "Belinostat": "O=C(/C=C/c1cccc(c1)S(=O)(=O)Nc1ccccc1)NO",
        "Dabrafenib": "CC(C)(C)c1nc(c(s1)-c1ccnc(N)n1)",
    }
    wide = pd.DataFrame({"cell_type": [c for c, _ in pairs], "sm_name": [d for _, d in pairs]})
    wide["SMILES"] = wide["sm_name"].map(smiles)
    genes = pd.DataFrame(rng.normal(size=(len(pairs), 20)), columns=[f"G{i}" for i in range(20)])
    adata = sctl.pp.de_to_anndata(pd.concat([wide, genes], axis=1))
    SeqPerturb.setup_anndata(adata, layer=None, cell_type_key="cell_type", compound_key="sm_name", smiles_key="SMILES")
    assert "sctl_smiles_length" in adata.obs.columns
    model = SeqPerturb(adata, encoder="gru_attention")
    assert len(model.categories) == 4  # cell type, compound, SMILES, SMILES length
    model.train(max_epochs=2, batch_size=4)
    assert model.predict(adata).shape == (9, 20)
    model.save(tmp_path / "de")
    loaded = SeqPerturb.load(tmp_path / "de")
    np.testing.assert_allclose(loaded.predict(adata).to_numpy(), model.predict(adata).to_numpy(), atol=1e-6)


def test_bad_options(split):
    train = split[0].copy()
    SeqPerturb.setup_anndata(train)
    with pytest.raises(ValueError, match="Unknown encoder"):
        SeqPerturb(train, encoder="mamba")
    with pytest.raises(ValueError, match="without `dose_key`"):
        SeqPerturb(train).predict(split[1], dose=1.0)


def test_learns_held_out_dose(split):
    """3-stacked GRU with attention, trained on 5 doses and tested on the 6th."""
    train, test = split[0].copy(), split[1]
    SeqPerturb.setup_anndata(train, compound_id_key="pert_id", dose_key="dose")
    model = SeqPerturb(train, encoder="gru_attention")
    model.train(max_epochs=60, batch_size=64, lr=3e-3)
    observed = test.layers["sctl_delta"]
    mean_shift = train.layers["sctl_delta"].mean(0)
    scores = {
        "model": perturbation_report(observed, model.predict(test), control_mean=mean_shift),
        "zero": perturbation_report(observed, np.zeros_like(observed), control_mean=mean_shift),
        "mean": perturbation_report(observed, np.tile(mean_shift, (test.n_obs, 1)), control_mean=mean_shift),
    }
    for metric in ("mean_rowwise_rmse", "mae"):
        assert scores["model"][metric] < scores["zero"][metric]
        assert scores["model"][metric] < scores["mean"][metric]
    assert scores["model"]["sign_accuracy"] > scores["mean"]["sign_accuracy"]
    assert scores["model"]["pearson_delta"] > 0.2
