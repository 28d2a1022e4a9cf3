import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

import sctl
from sctl.metrics import auroc
from sctl.models import PathwayTransfer, transfer_data

from ._transfer_data import DRUG, bulk_and_cells

torch.set_num_threads(1)
FAST = {"enable_progress_bar": False}


def _data(**kwargs):
    bulk, cells = bulk_and_cells()
    return bulk, cells, transfer_data(bulk, cells, DRUG, **kwargs)


def test_transfer_data_labels_bulk_only_and_standardizes_each_domain():
    bulk, cells, data = _data()
    assert set(data.obs["sctl_domain"]) == {"bulk", "cells"}
    on_cells = data.obs["sctl_domain"] == "cells"
    assert data.obs.loc[on_cells, "sctl_label"].isna().all()  # cells' own labels are never used
    n_tested = bulk.obsm["ln_ic50"][DRUG].notna().sum()
    assert data.obs.loc[~on_cells, "sctl_label"].notna().sum() == 2 * int(0.3 * n_tested)
    for mask in (on_cells.to_numpy(), ~on_cells.to_numpy()):
        assert np.allclose(data.X[mask].mean(0), 0, atol=1e-4)
    params = data.uns["sctl_transfer"]["params"]
    assert params["label_rule"] == {"method": "extremes", "k": 0.3, "threshold": None}
    assert params["drug"] == DRUG
    assert cells.n_obs == 600  # input untouched


def test_transfer_data_semi_supervised_is_opt_in():
    _, _, data = _data(cell_label_key="response")
    on_cells = data.obs["sctl_domain"] == "cells"
    assert data.obs.loc[on_cells, "sctl_label"].notna().all()


def test_transfer_data_errors():
    bulk, cells = bulk_and_cells()
    few = cells[:, :20].copy()
    with pytest.raises(ValueError, match="reference genes are found"):
        transfer_data(bulk, few, DRUG)
    thin = bulk[:12].copy()
    with pytest.raises(ValueError, match="too few labelled lines"):
        transfer_data(thin, cells, DRUG)


def test_wiring_one_epoch_and_ablations():
    _, cells, data = _data()
    for kwargs in ({}, {"pathway_decoder": False}, {"shared_encoder": False}, {"adversarial": True}):
        PathwayTransfer.setup_anndata(data)
        model = PathwayTransfer(data, **kwargs)
        model.train(max_epochs=1, **FAST)
        proba = model.predict(cells)
        assert proba.shape == (cells.n_obs,)
        assert ((proba >= 0) & (proba <= 1)).all()
    latent = model.get_latent_representation(cells)
    assert latent.shape == (cells.n_obs, len(model.latent_names))


@pytest.mark.parametrize("finetune", [True, False])
def test_classifier_phase_finetunes_or_freezes_the_encoder(finetune):
    _, _, data = _data()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data)
    model.train(max_epochs=2, pretrain_epochs=1, finetune_encoder=finetune, early_stopping=False, **FAST)
    after_pretrain = model.history_by_phase_["pretrain"]
    assert len(after_pretrain) == 1
    classifier_history = model.history_by_phase_["classifier"]
    # fine-tuning keeps the autoencoder losses in the classifier phase; frozen encoders train on cross-entropy only
    reconstruction = classifier_history.get("train_reconstruction", pd.Series(dtype=float))
    assert reconstruction.notna().any() == finetune
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    model.train(max_epochs=1, pretrain_epochs=0, finetune_encoder=finetune, early_stopping=False, **FAST)
    after = model.module.state_dict()
    assert not torch.equal(before["classifier.0.weight"], after["classifier.0.weight"])
    assert torch.equal(before["shared.0.weight"], after["shared.0.weight"]) != finetune


def test_errors_unfitted_and_other_genes():
    _, cells, data = _data()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data)
    with pytest.raises(NotFittedError, match="not trained"):
        model.predict(cells)
    model.train(max_epochs=1, **FAST)
    with pytest.raises(ValueError, match="lacks"):
        model.predict(cells[:, 10:].copy())


def test_same_seed_same_numbers_and_save_load(tmp_path):
    _, cells, data = _data()
    runs = []
    for _ in range(2):
        PathwayTransfer.setup_anndata(data)
        model = PathwayTransfer(data, seed=3)
        model.train(max_epochs=2, seed=3, **FAST)
        runs.append(model.predict(cells))
    np.testing.assert_array_equal(runs[0], runs[1])
    model.save(tmp_path / "model")
    loaded = PathwayTransfer.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(cells), runs[1])
    assert loaded.latent_names == model.latent_names


def test_learns_on_tumour_beats_constant():
    _, cells, data = _data()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data)
    model.train(max_epochs=30, **FAST)
    proba = model.predict(cells)
    truth = cells.obs["response"] == "sensitive"
    score = auroc(truth, proba)
    print(f"PathwayTransfer AUROC {score:.3f}")
    assert score > 0.7  # a constant predictor scores 0.5; measured 0.76 (logreg 0.67, signature 0.72)


def test_predict_response_plugs_in():
    bulk, cells = bulk_and_cells()
    sctl.tl.predict_response(
        cells, reference=bulk, drug=DRUG, method="pathway_transfer", train_kwargs={"max_epochs": 1, **FAST}
    )
    assert cells.uns["sctl_response"]["params"]["method"] == "pathway_transfer"
    assert cells.obs["sctl_response_proba"].between(0, 1).all()
    _, _, data = _data()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data)
    model.train(max_epochs=1, **FAST)
    out = sctl.tl.predict_response(cells, model=model, copy=True)
    np.testing.assert_allclose(out.obs["sctl_response_proba"], model.predict(cells))


def test_predict_response_learns_from_the_named_response_table():
    bulk, cells = bulk_and_cells()
    bulk.obsm["auc"] = -bulk.obsm["ln_ic50"]  # the same lines, every label flipped
    truth = cells.obs["response"] == "sensitive"
    scores = {}
    for key in ("ln_ic50", "auc"):
        out = sctl.tl.predict_response(
            cells,
            reference=bulk,
            drug=DRUG,
            method="pathway_transfer",
            key=key,
            copy=True,
            train_kwargs={"max_epochs": 30, **FAST},
        )
        scores[key] = auroc(truth, out.obs["sctl_response_proba"])
        assert out.uns["sctl_response"]["params"]["key"] == key
    assert scores["ln_ic50"] > 0.65
    assert scores["auc"] < 0.35  # learned from the flipped table, not from ln_ic50


# ------------------------------------------------------------------ per-domain losses (He et al. 2025, Eq. 5, 6, 10)
def _loss_terms(n_cells: int, n_lines: int):
    from sctl.models.pathway_transfer._module import DOMAIN_KEY, LABELS_KEY, X_KEY, PathwayTransferModule

    torch.manual_seed(0)
    mask = (torch.rand(12, 4) > 0.5).numpy().astype(np.float32)
    settings = {"n_latent": 4, "shared_encoder": True, "adversarial": False, "adversarial_weight": 0.0}
    settings |= {"r1": 0.1, "r2": 0.1, "sparse_relu": False}
    module = PathwayTransferModule(12, mask, n_extra=1, n_hidden=8, dropout=0.0, **settings).eval()
    x = torch.randn(n_cells + n_lines, 12)
    x[n_lines:] = 3 * x[n_lines:] + 1  # the cells reconstruct worse than the lines
    domain = torch.cat([torch.zeros(n_lines), torch.ones(n_cells)])
    tensors = {X_KEY: x, DOMAIN_KEY: domain, LABELS_KEY: torch.full((len(x),), float("nan"))}
    inference = module.inference(x, domain)
    generative = module.generative(inference["z_shared"], inference["z_private"])
    out = module._autoencoder_loss(tensors, inference, generative)
    return module, x, domain, inference, generative, out


def test_autoencoder_losses_have_one_term_per_domain():
    from sctl.models.pathway_transfer._module import orthogonality

    _, x, domain, inference, generative, out = _loss_terms(n_cells=90, n_lines=10)  # 9 cells to 1 line
    lines, cells = domain == 0, domain == 1
    mse = torch.nn.functional.mse_loss
    per_domain = mse(generative["x_dense"][lines], x[lines]) + mse(generative["x_dense"][cells], x[cells])
    pooled = mse(generative["x_dense"], x)
    recon = out.extra_metrics["reconstruction"]
    assert torch.isclose(recon, per_domain)  # Eq. 5: the lines weigh as much as the cells
    assert not torch.isclose(recon, pooled, rtol=0.05)  # the former pooled mean, 90 % cells
    sparse = mse(generative["x_sparse"][lines], x[lines]) + mse(generative["x_sparse"][cells], x[cells])
    assert torch.isclose(out.extra_metrics["sparse_reconstruction"], sparse)  # Eq. 10
    zp, zs = inference["z_private"], inference["z_shared"]
    centred_per_domain = orthogonality(zp[lines], zs[lines]) + orthogonality(zp[cells], zs[cells])
    assert torch.isclose(out.extra_metrics["orthogonality"], centred_per_domain)  # Eq. 6, centred per domain
    assert not torch.isclose(out.extra_metrics["orthogonality"], orthogonality(zp, zs), rtol=0.05)


def test_autoencoder_loss_on_a_one_domain_batch():
    _module, x, _domain, _inference, generative, out = _loss_terms(n_cells=0, n_lines=8)
    assert torch.isclose(out.extra_metrics["reconstruction"], torch.nn.functional.mse_loss(generative["x_dense"], x))
    assert torch.isfinite(out.loss)


# --------------------------------------------------------------------------------- highly variable genes
def test_n_top_genes_selects_the_most_variable_genes_of_the_cells():
    import scanpy as sc

    bulk, cells, data = _data(n_top_genes=100)
    assert data.n_vars == 100
    params = data.uns["sctl_transfer"]["params"]
    assert params["n_top_genes"] == 100
    assert params["highly_variable"].startswith("seurat")
    shared = cells[:, cells.var_names.isin(bulk.var_names)]
    table = sc.pp.highly_variable_genes(shared.copy(), flavor="seurat", inplace=False)
    expected = set(shared.var_names[np.argsort(-table["dispersions_norm"].fillna(-np.inf).to_numpy())[:100]])
    assert set(data.var_names) == expected
    # no label leaks into the choice: other bulk responses select the same genes
    shuffled = bulk.copy()
    shuffled.obsm["ln_ic50"] = shuffled.obsm["ln_ic50"].sample(frac=1, random_state=0).set_axis(bulk.obs_names)
    assert list(transfer_data(shuffled, cells, DRUG, n_top_genes=100).var_names) == list(data.var_names)
    assert data.uns["sctl_transfer"]["params"]["n_top_genes"] == 100
    with pytest.raises(ValueError, match="n_top_genes"):
        transfer_data(bulk, cells, DRUG, n_top_genes=0)


def test_n_top_genes_on_scaled_cells_uses_the_variance():
    bulk, cells = bulk_and_cells()
    cells.X = np.asarray(cells.X.todense() if hasattr(cells.X, "todense") else cells.X) - 5.0  # not log-normalised
    data = transfer_data(bulk, cells, DRUG, n_top_genes=50)
    assert data.n_vars == 50
    assert data.uns["sctl_transfer"]["params"]["highly_variable"].startswith("variance")


# ------------------------------------------------------------------------------- balancing after the split
def _imbalanced(**kwargs):
    bulk, cells = bulk_and_cells()
    cutoff = float(bulk.obsm["ln_ic50"][DRUG].quantile(0.25))  # a quarter sensitive, three quarters resistant
    data = transfer_data(bulk, cells, DRUG, label_method="threshold", label_threshold=cutoff, **kwargs)
    return cells, data


def test_transfer_data_records_the_balancing_and_copies_no_line():
    _, data = _imbalanced(balance="oversample")
    assert data.uns["sctl_transfer"]["params"]["balance"] == "oversample"
    lines = data.X[(data.obs["sctl_domain"] == "bulk").to_numpy()]
    assert len(np.unique(lines, axis=0)) == len(lines)  # no oversampled copy before the split


@pytest.mark.parametrize("method", ["oversample", "smote"])
def test_balancing_reaches_no_validation_line(method):
    _, data = _imbalanced()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data, pathway_decoder=False)
    train_idx, val_idx = model._split(0.8, seed=0)
    training, train_rows = model._balanced_training_data(train_idx, val_idx, method, seed=0)
    assert model.balance_["n_synthetic"] > 0
    assert training.n_obs == data.n_obs + model.balance_["n_synthetic"]
    X = training.X
    np.testing.assert_array_equal(X[val_idx], data.X[val_idx])  # validation rows untouched
    validation = {row.tobytes() for row in X[val_idx]}
    assert not any(row.tobytes() in validation for row in X[train_rows])  # no copy of a line on both sides
    obs = training.obs.iloc[train_rows]
    lines = obs[(obs["_sctl_domain_code"] == 0) & obs["_sctl_target"].notna()]
    assert lines["_sctl_target"].value_counts().nunique() == 1  # balanced training lines
    if method == "smote":  # interpolants lie between training lines only: none equals a validation line
        assert training.obs_names[data.n_obs :].str.startswith("sctl_balance:").all()


def test_train_balances_after_the_split_and_warns_when_nothing_changes():
    _, data = _imbalanced(balance="oversample")
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data, pathway_decoder=False)
    model.train(max_epochs=1, **FAST)  # the data's recorded request
    assert model.balance_["method"] == "oversample"
    assert model.balance_["n_synthetic"] > 0
    assert model.adata is data  # the model keeps its own data
    model.train(max_epochs=1, balance="none", **FAST)  # the user's value wins
    assert model.balance_["n_synthetic"] == 0
    _, _, balanced = _data()  # "extremes": as many sensitive as resistant lines
    PathwayTransfer.setup_anndata(balanced)
    model = PathwayTransfer(balanced, pathway_decoder=False)
    with pytest.warns(UserWarning, match="changed nothing"):
        model.train(max_epochs=1, train_size=1.0, balance="oversample", **FAST)
    with pytest.raises(ValueError, match="`balance` must be one of"):
        model.train(max_epochs=1, balance="undersample", **FAST)


# --------------------------------------------------------------------------------------------- presets
def _gmt(tmp_path, genes):
    path = tmp_path / "cc.gmt"
    lines = [f"GOCC_SET_{i}\tdescription\t" + "\t".join(genes[i * 20 : i * 20 + 30]) for i in range(8)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paper_preset_resolves_every_element_and_the_user_wins(tmp_path):
    _, _, data = _data()
    PathwayTransfer.setup_anndata(data)
    gmt = _gmt(tmp_path, list(data.var_names))
    paper = PathwayTransfer(data, gmt, preset="paper")
    init = paper.init_params_
    assert init["preset"] == "paper"
    assert (init["min_genes"], init["n_extra"], init["r1"], init["r2"]) == (10, 5, 0.1, 0.1)
    assert init["sparse_relu"] is True
    assert paper.module.sparse_relu
    assert paper.mask_.shape[1] == 8
    assert paper.genesets_source_ == "cc.gmt"
    assert "preset 'paper'" in paper._model_summary_string
    assert PathwayTransfer._data_presets["paper"] == {"n_top_genes": 2500, "key": "auc", "standardize_rows": False}
    sctl_model = PathwayTransfer(data, gmt)
    assert sctl_model.init_params_["preset"] == "sctl"
    assert not sctl_model.module.sparse_relu
    assert PathwayTransfer(data, gmt, preset="paper", sparse_relu=False).module.sparse_relu is False
    with pytest.warns(UserWarning, match="GO cellular-component.*genesets="):
        PathwayTransfer(data, preset="paper")
    with pytest.raises(ValueError, match="Unknown preset"):
        PathwayTransfer(data, gmt, preset="CODE-AE")
    # paper: the classifier trains on the frozen pretrained encoder (section 4.3); sctl fine-tunes it
    paper.train(max_epochs=1, pretrain_epochs=0, early_stopping=False, **FAST)
    assert paper.train_params_["finetune_encoder"] is False
    assert paper.train_params_["train_size"] == 0.9
    before = paper.module.state_dict()["shared.0.weight"].clone()
    paper.train(max_epochs=1, pretrain_epochs=0, early_stopping=False, **FAST)
    assert torch.equal(before, paper.module.state_dict()["shared.0.weight"])


@pytest.mark.parametrize("preset", ["sctl", "paper"])
def test_both_presets_train_predict_save_load(preset, tmp_path):
    _, cells, data = _data()
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data, _gmt(tmp_path, list(data.var_names)), preset=preset)
    model.train(max_epochs=2, **FAST)
    proba = model.predict(cells)
    assert proba.shape == (cells.n_obs,)
    assert np.isfinite(proba).all()
    model.save(tmp_path / preset)
    loaded = PathwayTransfer.load(tmp_path / preset)
    assert loaded.preset == preset
    rebuilt = {"min_genes", "max_genes"}  # the saved mask is rebuilt as it was, whatever its bounds
    assert {k: v for k, v in loaded.init_params_.items() if k not in rebuilt} == {
        k: v for k, v in model.init_params_.items() if k not in rebuilt
    }
    np.testing.assert_array_equal(loaded.predict(cells), proba)


def test_from_reference_routes_the_paper_preset_to_the_data():
    bulk, cells = bulk_and_cells()
    model = PathwayTransfer.from_reference(
        bulk,
        cells,
        DRUG,
        preset="paper",
        pathway_decoder=False,
        data_kwargs={"n_top_genes": 200},
        train_kwargs={"max_epochs": 1, **FAST},
    )
    params = model.adata.uns["sctl_transfer"]["params"]
    assert (params["key"], params["standardize_rows"]) == ("auc", False)  # the preset's
    assert params["n_top_genes"] == 200
    assert model.adata.n_vars == 200
    assert model.preset == "paper"
    assert not model.standardize_rows_
