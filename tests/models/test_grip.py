import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import sctl
from sctl.metrics import perturbation_report
from sctl.models import GRIP

torch.set_num_threads(1)
HELD_OUT_DOSE = 1.11  # µM: interpolation between 0.37 and 3.33


def _treated() -> AnnData:
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    return plate[~plate.obs["is_control"].to_numpy()].copy()


@pytest.fixture(scope="module")
def split() -> tuple[AnnData, AnnData]:
    treated = _treated()
    test = treated.obs["dose"].eq(HELD_OUT_DOSE).to_numpy()
    return treated[~test].copy(), treated[test].copy()


@pytest.fixture(scope="module")
def tiny(split) -> GRIP:
    train = split[0].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    model = GRIP(train, n_hidden=32, n_embed=8, n_disc_hidden=32)
    model.train(max_epochs=1)
    return model


def test_wiring_predict_names_and_writes_nothing(tiny, split):
    test = split[1]
    before = (set(test.layers), set(test.obs.columns), set(test.uns), test.X.copy())
    pred = tiny.predict(test)
    assert pred.shape == (test.n_obs, test.n_vars)
    assert list(pred.columns) == list(test.var_names)
    assert list(pred.index) == list(test.obs_names)
    assert np.isfinite(pred.to_numpy()).all()
    assert (set(test.layers), set(test.obs.columns), set(test.uns)) == before[:3]
    np.testing.assert_array_equal(test.X, before[3])
    delta = tiny.predict(test, return_delta=True)
    np.testing.assert_allclose(delta.to_numpy(), pred.to_numpy() - test.layers["sctl_basal"], atol=1e-4)


def test_predict_overrides(tiny, split):
    test = split[1]
    one = tiny.predict(test, drug="vemurafenib", dose=1.0)
    assert np.allclose(one.to_numpy(), one.to_numpy()[0])  # one basal, one condition: one profile
    other = tiny.predict(test, drug="vemurafenib", dose=10.0)
    assert not np.allclose(one.to_numpy(), other.to_numpy())


def test_unknown_drug_lists_known_and_points_to_csg2a(tiny, split):
    with pytest.raises(KeyError, match=r"(?s)Unknown drug 'aspirin'.*vemurafenib.*CSG2A.*SMILES"):
        tiny.predict(split[1], drug="aspirin")


def test_dose_missing(tiny, split):
    test = split[1].copy()
    del test.obs["dose"]
    with pytest.raises(KeyError, match="pass `dose=`"):
        tiny.predict(test)
    assert tiny.predict(test, dose=0.5).shape[0] == test.n_obs


def test_setup_needs_basal_layer():
    plate = sctl.datasets.lincs()
    with pytest.raises(KeyError, match="match_controls"):
        GRIP.setup_anndata(plate)


def test_genes_must_match(tiny, split):
    with pytest.raises(ValueError, match="align_genes"):
        tiny.predict(split[1][:, :100].copy())


def test_save_load_round_trip(tiny, split, tmp_path):
    tiny.save(tmp_path / "grip")
    loaded = GRIP.load(tmp_path / "grip")
    np.testing.assert_allclose(loaded.predict(split[1]).to_numpy(), tiny.predict(split[1]).to_numpy(), atol=1e-5)
    torch.load(tmp_path / "grip" / "model_state.pt", weights_only=True)  # nothing pickled
    with pytest.raises(FileExistsError):
        tiny.save(tmp_path / "grip")
    tiny.save(tmp_path / "grip", overwrite=True)
    with pytest.raises(FileNotFoundError):
        GRIP.load(tmp_path / "nothing")


def test_same_seed_same_numbers(split):
    preds = []
    for _ in range(2):
        train = split[0].copy()
        GRIP.setup_anndata(train, dose_key="dose")
        model = GRIP(train, n_hidden=32, n_embed=8, n_disc_hidden=32, seed=3)
        model.train(max_epochs=2, seed=3)
        preds.append(model.predict(split[1]).to_numpy())
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.mark.parametrize(("generator", "discriminator"), [("cae", "cnn"), ("transformer", "mlp"), ("residual", "cnn")])
def test_other_architectures_wire(split, generator, discriminator):
    train = split[0].copy()
    GRIP.setup_anndata(train, cell_line_key=None)
    model = GRIP(train, generator=generator, discriminator=discriminator, n_hidden=64, n_embed=8, n_disc_hidden=32)
    model.train(max_epochs=1)
    assert model.predict(split[1]).shape == split[1].shape


def test_condition_input_options(split, tmp_path):
    """Section 4.4 of GRIP-Lung: embeddings projected to the genes and added to the input; concat and FiLM-only too."""
    import json

    train = split[0].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    added = GRIP(train, n_hidden=32, n_embed=8, n_disc_hidden=32)  # default: the paper's addition
    assert added.module.condition_input == "add"
    assert added.module.input_embedding.weight.shape == (train.n_vars, 16)  # [cell, drug] -> genes
    basal, condition = torch.zeros(2, train.n_vars), torch.randn(2, 8 * 2 + 8 + 1)  # + drug x dose, dose
    expected = added.module.input_embedding(condition[:, :16])
    torch.testing.assert_close(added.module.generator_input(basal, condition), expected)
    concat = GRIP(train, condition_input="concat", n_hidden=32, n_embed=8, n_disc_hidden=32)
    assert concat.module.generator.project.in_features == train.n_vars + 16
    film_only = GRIP(train, condition_input="none", n_hidden=32, n_embed=8, n_disc_hidden=32)
    assert film_only.module.input_embedding is None
    film_only.train(max_epochs=1, devices=1)  # Lightning options pass through (devices used to clash)
    film_only.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    del meta["init"]["condition_input"]  # saved before the option existed
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    loaded = GRIP.load(tmp_path / "old")
    assert loaded.module.condition_input == "none"
    np.testing.assert_allclose(loaded.predict(split[1]).to_numpy(), film_only.predict(split[1]).to_numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="Unknown condition_input"):
        GRIP(train, condition_input="multiply")


def test_bad_options(split):
    train = split[0].copy()
    GRIP.setup_anndata(train)
    with pytest.raises(ValueError, match="Unknown generator"):
        GRIP(train, generator="unet")


def test_learns_held_out_dose(split):
    """Trained on 5 doses, tested on the 6th: beats zero change and the mean shift."""
    train, test = split[0].copy(), split[1]
    GRIP.setup_anndata(train, dose_key="dose")
    model = GRIP(train)
    model.train()  # the default 20 epochs
    observed = test.layers["sctl_delta"]
    mean_shift = train.layers["sctl_delta"].mean(0)
    scores = {
        "model": perturbation_report(observed, model.predict(test, return_delta=True), control_mean=mean_shift),
        "zero": perturbation_report(observed, np.zeros_like(observed), control_mean=mean_shift),
        "mean": perturbation_report(observed, np.tile(mean_shift, (test.n_obs, 1)), control_mean=mean_shift),
    }
    for metric in ("mean_rowwise_rmse", "mae"):
        assert scores["model"][metric] < scores["zero"][metric]
        assert scores["model"][metric] < scores["mean"][metric]
    assert scores["model"]["sign_accuracy"] > scores["mean"]["sign_accuracy"]
    assert scores["model"]["pearson_delta"] > 0.2


def _small(train: AnnData, **kwargs) -> GRIP:
    return GRIP(train, **{"n_hidden": 32, "n_embed": 8, "n_disc_hidden": 32, **kwargs})


def test_scaling_fitted_on_training_rows_only_and_saved(split, tmp_path):
    """Regression: the gene scaling used to be fitted in `__init__` on every row, validation rows included."""
    train = split[0].copy()
    train.X[:20] += 5.0  # rows that move the all-row mean far from the training-row mean unless all train
    GRIP.setup_anndata(train, dose_key="dose")
    model = _small(train)
    model.train(max_epochs=1, train_size=0.5)
    rows = np.sort(model.train_indices)
    assert len(rows) < train.n_obs
    np.testing.assert_allclose(model.module.gene_mean.numpy(), train.X[rows].mean(0), atol=1e-4)
    assert not np.allclose(model.module.gene_mean.numpy(), train.X.mean(0), atol=1e-2)
    model.save(tmp_path / "m")
    loaded = GRIP.load(tmp_path / "m")
    torch.testing.assert_close(loaded.module.gene_mean, model.module.gene_mean)
    torch.testing.assert_close(loaded.module.basal_std, model.module.basal_std)


def test_separate_scaling_z_scores_input_and_output_each_on_its_own(split):
    """GRIP-Lung section 4.1: input and output matrices z-scored independently, per training fold."""
    rng = np.random.default_rng(0)
    train = split[0].copy()
    train.layers["sctl_basal"] = train.layers["sctl_basal"] + rng.normal(0, 0.5, train.shape).astype(np.float32)
    GRIP.setup_anndata(train, dose_key="dose")
    shared, separate = _small(train), _small(train, scaling="separate")
    for model in (shared, separate):
        model.train(max_epochs=1)
    basal = train.layers["sctl_basal"]
    np.testing.assert_allclose(separate.input_scaling[0], basal.mean(0), atol=1e-4)
    np.testing.assert_allclose(separate.input_scaling[1], basal.std(0), rtol=1e-3)
    np.testing.assert_allclose(separate.module.gene_mean.numpy(), train.X.mean(0), atol=1e-4)
    np.testing.assert_allclose(shared.input_scaling[0], shared.module.gene_mean.numpy())
    assert not np.allclose(separate.input_scaling[1], separate.module.gene_std.numpy(), rtol=0.05)
    with pytest.raises(ValueError, match="Unknown scaling"):
        _small(train, scaling="robust")


def test_adversarial_term_reads_a_detached_condition(split):
    """Regression: in the generator step the discriminator got the live condition, so the adversarial loss could
    move the embeddings by changing the condition it judges rather than the profile they generate."""
    train = split[0].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    model = _small(train)
    seen = []
    model.module.discriminator.register_forward_pre_hook(
        lambda module, args: seen.append(args[1].requires_grad) if module.training else None
    )
    model.train(max_epochs=1)
    assert seen
    assert not any(seen)


def test_setup_with_a_wrong_dose_key_leaves_adata_untouched(split):
    """Regression: unused drug categories were dropped from the user's obs before the dose key was checked."""
    train = split[0].copy()
    train.obs["drug"] = train.obs["drug"].cat.add_categories(["unused"])
    obs, uns, X = train.obs.copy(), dict(train.uns), train.X.copy()
    with pytest.raises(KeyError, match="no_such_dose"):
        GRIP.setup_anndata(train, dose_key="no_such_dose")
    pd.testing.assert_frame_equal(train.obs, obs)
    assert "unused" in train.obs["drug"].cat.categories
    assert set(train.uns) == set(uns)
    np.testing.assert_array_equal(train.X, X)


def test_paper_preset_sets_every_stated_choice(split):
    train = split[0].copy()
    GRIP.setup_anndata(train)
    model = GRIP(train, preset="paper")
    module = model.module
    assert model.preset == "paper"
    assert "preset paper" in model._model_summary_string
    assert {k: model.init_params_[k] for k in ("generator", "discriminator", "condition_input", "scaling")} == {
        "generator": "residual",
        "discriminator": "mlp",
        "condition_input": "add",
        "scaling": "separate",
    }
    assert type(module.generator).__name__ == "ResidualGenerator"
    assert module.generator.project.out_features == 256  # section 4.5
    assert module.generator.block.net[0].out_features == 256
    assert module.cell_embedding.embedding_dim == module.drug_embedding.embedding_dim == 128  # section 4.4
    assert module.input_embedding.out_features == train.n_vars  # added to the input, section 4.4
    assert module.generator.film is not None  # FiLM, section 4.5 (not the authors' code)
    first = module.discriminator.net[0]
    assert type(module.discriminator).__name__ == "MLPDiscriminator"
    assert first.out_features == 128
    assert all(m.p == 0.0 for m in module.modules() if isinstance(m, torch.nn.Dropout))
    assert GRIP(train, preset="paper", dropout=0.2).init_params_["dropout"] == 0.2  # the user's value wins
    sctl_model = GRIP(train)
    assert sctl_model.init_params_["scaling"] == "shared"
    assert sctl_model.init_params_["dropout"] == 0.3
    with pytest.raises(ValueError, match="Unknown preset"):
        GRIP(train, preset="nature")


def test_paper_preset_trains_predicts_and_round_trips(split, tmp_path):
    train = split[0].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    model = GRIP(train, preset="paper", n_hidden=32, n_embed=8)
    model.train(max_epochs=2)
    assert model.train_settings_ == {
        "max_epochs": 2,
        "batch_size": 32,
        "lr": 1e-3,
        "lambda_mse": 1.0,
        "adversarial_weight": 0.1,
        "weight_decay": 0.0,
    }
    plan = model.trainer.lightning_module
    assert (plan.lambda_mse, plan.adversarial_weight, plan.weight_decay) == (1.0, 0.1, 0.0)
    pred = model.predict(split[1])
    assert pred.shape == split[1].shape
    assert np.isfinite(pred.to_numpy()).all()
    model.save(tmp_path / "paper")
    loaded = GRIP.load(tmp_path / "paper")
    assert loaded.preset == "paper"
    assert loaded.init_params_ == model.init_params_
    np.testing.assert_allclose(loaded.predict(split[1]).to_numpy(), pred.to_numpy(), atol=1e-5)


def test_models_saved_before_presets_and_separate_scaling_load(tiny, split, tmp_path):
    import json

    tiny.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    for key in ("preset", "scaling"):
        del meta["init"][key]
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    state = torch.load(tmp_path / "old" / "model_state.pt", weights_only=True)
    for key in ("basal_mean", "basal_std"):
        del state[key]
    torch.save(state, tmp_path / "old" / "model_state.pt")
    loaded = GRIP.load(tmp_path / "old")
    assert loaded.preset == "sctl"
    assert loaded.init_params_["scaling"] == "shared"
    np.testing.assert_allclose(loaded.predict(split[1]).to_numpy(), tiny.predict(split[1]).to_numpy(), atol=1e-5)


def test_early_stopping_watches_validation_mse(split):
    train = split[0].copy()
    GRIP.setup_anndata(train, dose_key="dose")
    model = _small(train)
    with pytest.raises(ValueError, match=r"early_stopping=True.*train_size=1.0.*below 1"):
        model.train(max_epochs=5, early_stopping=True)
    for patience in (0, 2.5, True):
        with pytest.raises(ValueError, match=r"`patience` must be a whole number of epochs, at least 1"):
            model.train(max_epochs=5, train_size=0.8, early_stopping=True, patience=patience)
    model.train(max_epochs=300, train_size=0.8, early_stopping=True, patience=2, enable_progress_bar=False)
    mse = model.history["validation_mse"].to_numpy().ravel()
    assert len(mse) < 300  # stopped
    assert np.argmin(mse) == len(mse) - 3  # the best epoch, then `patience` epochs without improvement
