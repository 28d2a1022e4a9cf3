import json
import warnings

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
    SeqPerturb.setup_anndata(train, drug_id_key="pert_id", dose_key="dose")
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
    SeqPerturb.setup_anndata(
        train, cell_line_key="line", drug_key="compound", drug_id_key=None, smiles_key=None, dose_key="dose"
    )
    model = SeqPerturb(train, encoder="gru")
    assert list(model.categories) == ["line", "compound"]
    assert [len(v) for v in model.categories.values()] == [1, train.obs["compound"].nunique()]
    model.train(max_epochs=1, batch_size=64)
    pred = model.predict(test)
    assert pred.shape == test.shape
    assert np.isfinite(pred.to_numpy()).all()
    model.save(tmp_path / "seq")
    np.testing.assert_allclose(SeqPerturb.load(tmp_path / "seq").predict(test).to_numpy(), pred.to_numpy(), atol=1e-6)


def _de_table(with_id: bool = True) -> AnnData:
    """Nine (cell type, compound) pairs with the five input columns of Ali et al. Table I and 20 genes."""
    rng = np.random.default_rng(0)
    pairs = [(c, d) for c in ("NK cells", "T cells", "B cells") for d in ("Clotrimazole", "Belinostat", "Dabrafenib")]
    smiles = {
        "Clotrimazole": "Clc1ccccc1C(c1ccccc1)n1ccnc1",
        "Belinostat": "O=C(/C=C/c1cccc(c1)S(=O)(=O)Nc1ccccc1)NO",
        "Dabrafenib": "CC(C)(C)c1nc(c(s1)-c1ccnc(N)n1)",
    }
    wide = pd.DataFrame({"cell_type": [c for c, _ in pairs], "sm_name": [d for _, d in pairs]})
    if with_id:
        wide["sm_lincs_id"] = wide["sm_name"].map({d: f"LSM-{i}" for i, d in enumerate(smiles)})
    wide["SMILES"] = wide["sm_name"].map(smiles)
    genes = pd.DataFrame(rng.normal(size=(len(pairs), 20)), columns=[f"G{i}" for i in range(20)])
    return sctl.pp.de_to_anndata(pd.concat([wide, genes], axis=1))


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
    SeqPerturb.setup_anndata(
        adata, layer=None, cell_line_key="cell_type", drug_key="sm_name", drug_id_key=None, smiles_key="SMILES"
    )
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
    SeqPerturb.setup_anndata(train, drug_id_key="pert_id", dose_key="dose")
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


def test_the_five_tokens_of_the_paper_by_default():
    """Regression: only cell type and compound were registered unless the id and SMILES columns were named."""
    adata = _de_table()
    SeqPerturb.setup_anndata(adata, layer=None, cell_line_key="cell_type", drug_key="sm_name")
    model = SeqPerturb(adata)
    assert list(model.categories) == ["cell_type", "sm_name", "sm_lincs_id", "SMILES", "sctl_smiles_length"]
    codes = torch.zeros(2, 5, dtype=torch.long)
    assert model.module.tokens(codes, None).shape == (2, 5, 16)  # Ali et al. section II-B: (5, 16)


def test_warns_when_fewer_than_five_tokens(split):
    train = split[0].copy()  # the L1000 plate has a compound id (pert_id) but no SMILES
    with pytest.warns(UserWarning, match="five tokens"):
        SeqPerturb.setup_anndata(train, dose_key="dose")
    assert "pert_id" in SeqPerturb(train).categories
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SeqPerturb.setup_anndata(train, smiles_key=None, dose_key="dose")  # left out knowingly: no warning


def test_failing_setup_leaves_adata_untouched(split):
    """Regression: categorical columns were converted and pruned before a bad numeric column raised."""
    train = split[0].copy()
    train.obs["drug"] = train.obs["drug"].astype(str)
    obs, uns, X = train.obs.copy(), dict(train.uns), train.X.copy()
    with pytest.raises(ValueError, match="dose_unit"):
        SeqPerturb.setup_anndata(train, dose_key="dose_unit")  # text, not a dose
    pd.testing.assert_frame_equal(train.obs, obs)
    assert set(train.uns) == set(uns)
    np.testing.assert_array_equal(train.X, X)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_paper_preset_per_encoder(encoder):
    """Ali et al. Table III: learning rate, epochs and batch size per architecture; Adam without decay."""
    table = {
        "lstm": (300, 30, 1e-3),
        "gru": (300, 30, 1e-3),
        "gru3": (300, 30, 1e-3),
        "gru_attention": (300, 20, 1e-3),
        "transformer": (400, 50, 3e-3),
        "autoencoder": (500, 70, 3e-3),
    }
    adata = _de_table()
    SeqPerturb.setup_anndata(adata, layer=None, cell_line_key="cell_type", drug_key="sm_name")
    model = SeqPerturb(adata, preset="paper", encoder=encoder)
    model.train(max_epochs=1)  # the user's value wins
    epochs, batch_size, lr = table[encoder]
    assert model.train_settings_ == {"max_epochs": 1, "batch_size": batch_size, "lr": lr, "weight_decay": 0.0}
    from sctl.models.seqperturb import _presets

    assert _presets.PAPER_TRAINING[encoder]["max_epochs"] == epochs
    head, out = model.module.head, model.module.out
    assert out.out_features == adata.n_vars
    assert head[2].p == 0.5
    if encoder == "autoencoder":
        assert (head[0].out_features, type(head[1])) == (128, torch.nn.ReLU)
    else:
        assert (head[0].out_features, type(head[1])) == (256, torch.nn.Tanh)
    net = model.module.encoder.net
    if encoder == "transformer":
        assert isinstance(net, torch.nn.MultiheadAttention)
        assert net.num_heads == 2
    if encoder == "gru_attention":
        assert [layer.hidden_size for layer in net.layers] == [128, 128, 64]
        assert model.module.encoder.pool is not None


def test_paper_preset_trains_predicts_and_round_trips(tmp_path):
    adata = _de_table()
    SeqPerturb.setup_anndata(adata, layer=None, cell_line_key="cell_type", drug_key="sm_name")
    model = SeqPerturb(adata, preset="paper")
    assert model.init_params_["encoder"] == "gru_attention"
    assert "preset paper" in model._model_summary_string
    assert all(emb.embedding_dim == 16 for emb in model.module.embeddings)
    model.train(max_epochs=3)
    pred = model.predict(adata)
    assert pred.shape == (9, 20)
    model.save(tmp_path / "paper")
    loaded = SeqPerturb.load(tmp_path / "paper")
    assert loaded.preset == "paper"
    assert loaded.init_params_ == model.init_params_
    np.testing.assert_allclose(loaded.predict(adata).to_numpy(), pred.to_numpy(), atol=1e-6)
    sctl_model = SeqPerturb(adata)
    assert isinstance(sctl_model.module.encoder.net, torch.nn.modules.rnn.GRU) is False  # a stack, not one GRU
    with pytest.raises(ValueError, match="Unknown preset"):
        SeqPerturb(adata, preset="kaggle")


def test_old_key_names_warn_and_old_saves_load(tmp_path):
    adata = _de_table()
    with pytest.warns(FutureWarning) as renamed:
        SeqPerturb.setup_anndata(
            adata,
            layer=None,
            cell_type_key="cell_type",
            compound_key="sm_name",
            compound_id_key="sm_lincs_id",
            smiles_key=None,
        )
    messages = [str(warning.message) for warning in renamed]
    assert len(messages) == 3
    assert messages[1].startswith("`compound_key=` of sctl.models.seqperturb.SeqPerturb.setup_anndata() is renamed")
    assert "`drug_key=`" in messages[1]
    model = SeqPerturb(adata, encoder="gru")
    assert list(model.categories) == ["cell_type", "sm_name", "sm_lincs_id"]
    model.train(max_epochs=1, batch_size=4)
    model.save(tmp_path / "seq")
    meta_path = tmp_path / "seq" / "model.json"
    meta = json.loads(meta_path.read_text())  # as sctl 0.1 saved it: the setup under the old names
    old_names = {"cell_line_key": "cell_type_key", "drug_key": "compound_key", "drug_id_key": "compound_id_key"}
    meta["setup"] = {old_names.get(k, k): v for k, v in meta["setup"].items()}
    meta_path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # loading an old save is nothing the user must change
        loaded = SeqPerturb.load(tmp_path / "seq")
    expected = model.predict(adata, drug="Belinostat", conditions={"sm_lincs_id": "LSM-1"}).to_numpy()
    got = loaded.predict(adata, drug="Belinostat", conditions={"sm_lincs_id": "LSM-1"}).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(TypeError, match="pass `drug_key=` only"):
        SeqPerturb.setup_anndata(adata, layer=None, drug_key="sm_name", compound_key="sm_name")


def test_early_stopping_watches_validation_loss(split):
    train = split[0].copy()
    SeqPerturb.setup_anndata(train, drug_id_key="pert_id", dose_key="dose")
    model = SeqPerturb(train, encoder="gru")
    with pytest.raises(ValueError, match=r"early_stopping=True.*validation_loss.*below 1"):
        model.train(max_epochs=5, early_stopping=True)
    model.train(max_epochs=300, train_size=0.8, early_stopping=True, patience=2, enable_progress_bar=False)
    loss = model.history["validation_loss"].to_numpy().ravel()
    assert len(loss) < 300
    assert np.argmin(loss) == len(loss) - 3
