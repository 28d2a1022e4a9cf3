"""CSG²A: wiring, determinism, save / load, clear errors and real pretraining on the L1000 plate."""

import time

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

import sctl
from sctl.models import CSG2A, CSG2AIC50

ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"  # not on the plate: an unseen drug


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def plate():
    """Treated L1000 profiles of the 14 plate drugs with a SMILES in the GDSC table, landmark genes shared with GDSC.

    The basal profile (mean DMSO control) comes from :func:`sctl.pp.match_controls`.
    """
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    treated = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    treated.uns["smiles"] = smiles
    return treated


@pytest.fixture
def tiny(plate):
    """40 genes, every profile: enough for the wiring tests."""
    adata = plate[:, :40].copy()
    CSG2A.setup_anndata(adata, drug_key="drug", smiles=plate.uns["smiles"])
    return adata


def _bulk(plate, n_lines: int = 30):
    bulk = sctl.datasets.gdsc()[:n_lines, plate.var_names[:40]].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["Trametinib", "Dasatinib"]]
    return bulk


def test_wiring_one_epoch(tiny):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), n_hidden=4, n_condition_hidden=8)
    model.train(max_epochs=1)
    assert len(model.history_["train_loss"]) == 1
    predicted = model.predict()
    assert predicted.shape == tiny.shape
    assert list(predicted.columns) == list(tiny.var_names)
    assert np.isfinite(predicted.to_numpy()).all()
    # an unseen drug, given by its SMILES, at a new dose and time
    unseen = model.predict(tiny[:3], smiles=ASPIRIN, dose=5.0, time=48.0)
    assert unseen.shape == (3, 40)
    assert np.isfinite(unseen.to_numpy()).all()
    attention = model.get_attention(tiny[:2], smiles=ASPIRIN, dose=10.0, time=24.0)
    assert attention.shape == (40, 40)
    assert list(attention.index) == list(attention.columns) == list(tiny.var_names)
    # one profile as a Series gives the same map as the AnnData of that profile
    basal = pd.Series(tiny.layers["sctl_basal"][0], index=tiny.var_names)
    single = model.get_attention(basal, smiles=ASPIRIN, dose=10.0, time=24.0)
    assert np.allclose(single, model.get_attention(tiny[:1], smiles=ASPIRIN, dose=10.0, time=24.0), atol=1e-5)
    assert "pretrained" in repr(model)


def test_progress_bar_shows_epochs_and_loss_unless_disabled(tiny, capsys):
    """scvi-tools' per-epoch bar (on stdout), labelled with the stage."""
    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8)
    model.train(max_epochs=2)
    bar = capsys.readouterr().out
    assert "Pretraining CSG2A, epoch 2/2" in bar
    assert f"train_loss={model.history_['train_loss'][-1]:.3g}" in bar
    model.train(max_epochs=2, enable_progress_bar=False)
    assert "CSG2A" not in capsys.readouterr().out


def test_dropout_in_pretraining_and_frozen_network_without_it_in_fine_tuning(tiny, plate):
    """Lightning keeps the modes it is given: the network trains with dropout, then stays in evaluation mode."""
    modes = []

    class Modes(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            loss = pl_module.module
            modes.append((loss.network.training, loss.head.training if hasattr(loss, "head") else None))

    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8)
    model.train(max_epochs=1, callbacks=[Modes()], enable_progress_bar=False)
    assert set(modes) == {(True, None)}
    modes.clear()
    ic50 = CSG2AIC50.from_pretrained(model, _bulk(plate))
    ic50.train(max_epochs=1, callbacks=[Modes()], enable_progress_bar=False)
    assert set(modes) == {(False, True)}
    assert not model.module.training  # both predict in evaluation mode
    assert not ic50.module.network.training
    assert not ic50.module.head.training


def test_accelerator_is_chosen_and_checked(tiny):
    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8, seed=1)
    model.train(max_epochs=1, accelerator="cpu", enable_progress_bar=False)
    auto = CSG2A(tiny, n_hidden=4, n_condition_hidden=8, seed=1)
    auto.train(max_epochs=1, enable_progress_bar=False)  # "auto": the CPU here, unless a GPU is present
    np.testing.assert_allclose(auto.predict().to_numpy(), model.predict().to_numpy(), atol=1e-4)
    assert next(auto.module.parameters()).device.type == "cpu"  # back on the CPU to predict
    with pytest.raises(ValueError, match=r"invalid accelerator name: `accelerator='tpx'`"):  # checked by Lightning
        model.train(max_epochs=1, accelerator="tpx")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU; use 'auto' or 'cpu'"):
            model.train(max_epochs=1, accelerator="gpu")


def test_set_up_anndata_writes_to_h5ad_and_is_set_up_again_after_reading(plate, tmp_path):
    """As with every scvi-tools model, the setup is registered for one AnnData object: a read-back copy is set up."""
    import anndata as ad

    adata = plate[:20, :30].copy()
    adata.obs = adata.obs[["drug", "dose", "time"]].astype({"drug": str})  # the raw CMap columns do not write
    adata.obs["smiles"] = adata.obs["drug"].astype(str).map(plate.uns["smiles"])
    del adata.uns["smiles"]
    CSG2A.setup_anndata(adata, smiles_key="smiles")
    adata.write_h5ad(tmp_path / "setup.h5ad")
    adata = ad.read_h5ad(tmp_path / "setup.h5ad")
    with pytest.raises(ValueError, match="Did you make a copy"):
        CSG2A(adata)
    CSG2A.setup_anndata(adata, smiles_key="smiles")
    model = CSG2A(adata, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    assert model.predict().shape == (20, 30)
    with pytest.raises(ValueError, match="SMILES column"):
        model.predict(smiles={"x": ASPIRIN})


def test_factorised_forward_equals_attention_map(tiny):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), attention="full", n_hidden=4, n_condition_hidden=8)
    layer = model.module.attention
    basal, condition = torch.randn(3, 40), torch.randn(3, 40)
    full = torch.einsum("bij,bj->bi", layer.weights(basal, condition), basal)
    assert torch.allclose(layer(basal, condition), full, atol=1e-4)


def test_sparse_and_dense_prior_give_the_same_forward(tiny):
    """Same weights, same small graph: the edge-list prior reproduces the dense genes x genes one."""
    sparse_model = CSG2A(tiny, ppi=sctl.datasets.ppi(), n_hidden=4, n_condition_hidden=8)
    dense_model = CSG2A(tiny, ppi=sctl.datasets.ppi(), prior="dense", n_hidden=4, n_condition_hidden=8)
    dense_model.module.load_state_dict(sparse_model.module.state_dict())
    sparse_layer, dense_layer = sparse_model.module.attention, dense_model.module.attention
    assert "adjacency" not in sparse_layer.state_dict()
    assert "prior_index" not in dense_layer.state_dict()
    n_edges = sparse_layer.n_edges
    assert 40 <= n_edges < 40 * 40 // 4  # self-loops plus a few PPI edges: far from dense
    assert dense_layer.n_edges == n_edges
    expected = sctl.pp.ppi_adjacency(sctl.datasets.ppi(), tiny.var_names).toarray() != 0  # binary by default
    np.testing.assert_allclose(sparse_layer.prior_matrix().numpy(), expected.astype(np.float32))
    basal, condition = torch.randn(5, 40), torch.randn(5, 40)
    torch.testing.assert_close(sparse_layer(basal, condition), dense_layer(basal, condition), atol=1e-5, rtol=1e-5)
    features, dose, time_ = (
        torch.rand(5, sparse_model.module.encoder.feature_center.numel()),
        torch.ones(5),
        torch.ones(5),
    )
    torch.testing.assert_close(
        sparse_model.module(basal, features, dose, time_)["predicted"],
        dense_model.module(basal, features, dose, time_)["predicted"],
        atol=1e-5,
        rtol=1e-5,
    )


def test_ppi_attention_is_restricted_to_edges(tiny):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), attention="ppi", n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    layer = model.module.attention
    basal, condition = torch.randn(3, 40), torch.randn(3, 40)
    weights = layer.weights(basal, condition)
    allowed = torch.as_tensor(sctl.pp.ppi_adjacency(sctl.datasets.ppi(), tiny.var_names).toarray() != 0)
    allowed |= torch.eye(40, dtype=torch.bool)
    assert torch.count_nonzero(weights[:, ~allowed]) == 0
    assert torch.count_nonzero(weights[:, allowed]) > 0
    torch.testing.assert_close(
        layer(basal, condition), torch.einsum("bij,bj->bi", weights, basal), atol=1e-4, rtol=1e-4
    )
    assert model.predict().shape == tiny.shape
    assert CSG2A(tiny, ppi=sctl.datasets.ppi()).module.attention.attention == "ppi"  # "auto" with a prior
    assert CSG2A(tiny).module.attention.attention == "full"  # "auto" without one
    with pytest.raises(ValueError, match="needs `ppi=`"):
        CSG2A(tiny, attention="ppi")
    with pytest.raises(ValueError, match="Unknown attention"):
        CSG2A(tiny, ppi=sctl.datasets.ppi(), attention="local")


def test_models_saved_with_a_dense_prior_still_load(tiny, tmp_path):
    """Weights saved before the sparse prior hold ``attention.adjacency`` (genes x genes) and no setting for it."""
    import json

    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), attention="full", n_hidden=4, n_condition_hidden=8)
    model.train(max_epochs=1)
    model.save(tmp_path / "old")
    state = torch.load(tmp_path / "old" / "model_state.pt", weights_only=True)
    layer = model.module.attention
    state["module"]["attention.adjacency"] = layer.prior_matrix().clone()
    del state["module"]["attention.prior_index"], state["module"]["attention.prior_weight"]
    torch.save(state, tmp_path / "old" / "model_state.pt")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    del meta["init"]["attention"], meta["init"]["prior"]
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    loaded = CSG2A.load(tmp_path / "old")
    assert loaded.module.attention.prior == "sparse"
    assert loaded.module.attention.attention == "full"  # what every model saved then used
    assert loaded.module.attention.n_edges == layer.n_edges
    np.testing.assert_allclose(loaded.predict(tiny).to_numpy(), model.predict(tiny).to_numpy(), atol=1e-5)


def test_held_out_drugs_of_the_setup_mapping_are_predicted_by_name(plate):
    """Set up by drug names, the SMILES of drugs absent from training are kept: drug-blind evaluation works.

    They used to be dropped at setup, so `evaluate_perturbation(scheme="drug_blind")` reported "cannot predict".
    """
    adata = plate[:, :40].copy()
    held_out = adata.obs["drug"].astype(str).isin(["dasatinib", "trametinib"]).to_numpy()
    train, test = adata[~held_out].copy(), adata[held_out].copy()
    CSG2A.setup_anndata(train, drug_key="drug", smiles=plate.uns["smiles"])
    model = CSG2A(train, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    by_name = model.predict(test)
    by_smiles = model.predict(test, smiles=[plate.uns["smiles"][d] for d in test.obs["drug"].astype(str)])
    np.testing.assert_allclose(by_name.to_numpy(), by_smiles.to_numpy())

    def fit(part):
        CSG2A.setup_anndata(part, drug_key="drug", smiles=plate.uns["smiles"])
        return CSG2A(part, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)

    adata.obs["is_control"] = False
    sctl.pp.log_fold_change(adata)
    table = sctl.tl.evaluate_perturbation(
        adata, {"CSG2A": fit}, scheme="drug_blind", n_folds=3, max_folds=1, baselines=False, key_added=None
    )
    assert (table["note"] == "").all()
    assert table.query("metric == 'mae'")["value"].notna().all()
    # read from `uns["sctl_drugs"]`, the setup keeps the training drugs and finds the others in the AnnData predicted
    drugs = pd.DataFrame({"smiles": pd.Series(plate.uns["smiles"])})
    train.uns["sctl_drugs"], test.uns["sctl_drugs"] = drugs, drugs
    CSG2A.setup_anndata(train, drug_key="drug")
    model = CSG2A(train, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    assert set(model.get_setup_arg("smiles")) == set(train.obs["drug"].astype(str))
    assert model.predict(test).shape == test.shape


def test_drug_names_work_with_predict_perturbation(tiny):
    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    by_name = model.predict(tiny[:4], drug="trametinib")
    by_smiles = model.predict(tiny[:4], smiles=model.get_setup_arg("smiles")["trametinib"])
    assert np.allclose(by_name, by_smiles)
    sctl.tl.predict_perturbation(tiny, model, "trametinib", dose=1.0)
    assert tiny.layers["sctl_predicted"].shape == tiny.shape


def test_same_seed_same_numbers(tiny):
    def run(seed):
        model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8, seed=seed).train(max_epochs=2)
        return model.predict().to_numpy()

    first, again, other = run(0), run(0), run(1)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_both_models_are_scvi_tools_models():
    from scvi.model.base import BaseModelClass

    assert issubclass(CSG2A, BaseModelClass)
    assert issubclass(CSG2AIC50, BaseModelClass)


def test_save_load_round_trip(tiny, plate, tmp_path):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), n_hidden=4, n_condition_hidden=8).train(max_epochs=1)
    bulk = _bulk(plate)
    ic50 = CSG2AIC50.from_pretrained(model, bulk, drugs=["Trametinib", "Dasatinib"]).train(max_epochs=1)
    model.save(tmp_path / "model")
    ic50.save(tmp_path / "ic50")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "model")
    # the weights files hold tensors only: they load without unpickling arbitrary objects
    torch.load(tmp_path / "model" / "model_state.pt", weights_only=True)
    torch.load(tmp_path / "ic50" / "model_state.pt", weights_only=True)
    loaded = CSG2A.load(tmp_path / "model")
    assert np.array_equal(model.predict(tiny).to_numpy(), loaded.predict(tiny).to_numpy())
    loaded_ic50 = CSG2AIC50.load(tmp_path / "ic50")
    assert np.array_equal(ic50.predict(bulk).to_numpy(), loaded_ic50.predict(bulk).to_numpy())
    unseen = {"aspirin": ASPIRIN}  # through the stored drug offsets and descriptor range
    assert np.array_equal(ic50.predict(bulk, unseen).to_numpy(), loaded_ic50.predict(bulk, unseen).to_numpy())
    assert loaded_ic50.init_params_["dose"] == 10.0
    assert loaded_ic50.init_params_["time"] == 72.0
    assert loaded_ic50.history_ == ic50.history_
    with pytest.raises(ValueError, match="adata="):
        loaded.predict()
    with pytest.raises(RuntimeError, match="keeps no training pairs"):
        loaded_ic50.train(max_epochs=1)
    # with data: set up with the saved setup, the default of `predict` and of further training
    with_data = CSG2A.load(tmp_path / "model", adata=tiny.copy())
    np.testing.assert_array_equal(with_data.predict().to_numpy(), model.predict(tiny).to_numpy())
    with_data.train(max_epochs=1, enable_progress_bar=False)
    with pytest.raises(ValueError, match="saved model's 40 genes, in its order"):
        CSG2A.load(tmp_path / "model", adata=tiny[:, ::-1].copy())


def test_fine_tuning_leaves_the_pretrained_model_unchanged(tiny, plate):
    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8, bias=True).train(max_epochs=1, enable_progress_bar=False)
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    ic50 = CSG2AIC50.from_pretrained(model, _bulk(plate)).train(max_epochs=1, freeze=False, enable_progress_bar=False)
    assert all(torch.equal(before[k], v) for k, v in model.module.state_dict().items())
    assert all(p.requires_grad for p in model.module.parameters())
    biases = [p for name, p in ic50.module.network.named_parameters() if name.endswith("bias")]
    assert biases
    assert all(not p.requires_grad and not p.any() for p in biases)  # removed in the fine-tuned copy
    assert "fine-tuned" in repr(ic50)


def test_drug_blind_ic50_is_stable_and_beats_mean_effects(plate):
    """Real fine-tuning on GDSC, six drugs held out whole (drug-blind), three seeds of pretraining and fine-tuning.

    The paper's head regresses the whole ln IC50 from frozen drug features and could put an unseen drug many ln
    units off (``benchmarks/csg2a_ic50.py``: RMSE 3.2 ± 2.0 over seeds). With the drug offset from the nearest
    training drugs the held-out RMSE must beat MeanEffects (global mean + line effect) and the training mean at
    every seed, vary little between seeds, and every held-out drug's mean prediction must stay within the range of
    the training drugs' means.
    """
    from sctl.models.baselines import MeanEffects

    start = time.perf_counter()
    tiny = plate[:, :40].copy()
    CSG2A.setup_anndata(tiny, drug_key="drug", smiles=plate.uns["smiles"])
    full = sctl.datasets.gdsc()
    drugs = [d for d in full.obsm["ln_ic50"].columns if isinstance(full.uns["sctl_drugs"]["smiles"].get(d), str)]
    bulk = full[:100, tiny.var_names].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][drugs]
    pairs = bulk.obsm["ln_ic50"].stack().rename("ln_ic50").reset_index()
    pairs.columns = ["cell_line", "drug", "ln_ic50"]
    held_out = ["Paclitaxel", "Erlotinib", "PLX-4720", "PD0325901", "Mitoxantrone", "Bortezomib"]
    is_test = pairs["drug"].isin(held_out)
    train, test = pairs[~is_test], pairs[is_test]
    y = test["ln_ic50"].to_numpy()

    def rmse(pred):
        return float(np.sqrt(np.mean((pred - y) ** 2)))

    baselines = {
        "mean_effects": rmse(MeanEffects().fit(bulk, pairs=train).predict(test)),
        "training_mean": rmse(np.full_like(y, train["ln_ic50"].mean())),
    }
    drug_means = train.groupby("drug")["ln_ic50"].mean()
    scores = []
    for seed in range(3):
        model = CSG2A(tiny, ppi=sctl.datasets.ppi(), n_hidden=4, n_condition_hidden=16, seed=seed)
        model.train(max_epochs=2, enable_progress_bar=False)
        ic50 = CSG2AIC50.from_pretrained(model, bulk, pairs=train).train(max_epochs=5, enable_progress_bar=False)
        table = ic50.predict(bulk, held_out)
        assert table.mean().between(drug_means.min(), drug_means.max()).all(), table.mean()
        scores.append(
            rmse(
                table.to_numpy()[bulk.obs_names.get_indexer(test["cell_line"]), table.columns.get_indexer(test["drug"])]
            )
        )
    elapsed = time.perf_counter() - start
    print(f"\nCSG2A drug-blind ln IC50 ({len(held_out)} drugs, {elapsed:.1f} s): RMSE {scores} vs {baselines}")
    assert max(scores) < baselines["mean_effects"]
    assert max(scores) < baselines["training_mean"]
    assert np.std(scores) < 0.05  # the paper's recipe: 3.84, 3.55, 3.43 here (std 0.17)


def test_errors_are_clear(tiny, plate):
    bad = plate[:, :40].copy()
    with pytest.raises(ValueError, match=r"trametinib.*not-a-smiles"):
        CSG2A.setup_anndata(bad, drug_key="drug", smiles={**plate.uns["smiles"], "trametinib": "not-a-smiles"})
    with pytest.raises(KeyError, match="No SMILES for 1 drug"):
        CSG2A.setup_anndata(
            bad, drug_key="drug", smiles={k: v for k, v in plate.uns["smiles"].items() if k != "dasatinib"}
        )
    with pytest.raises(ValueError, match="exactly one"):
        CSG2A.setup_anndata(bad)
    with pytest.raises(ValueError, match=r"set up your AnnData with CSG2A\.setup_anndata first"):
        CSG2A(bad)
    no_dose = bad.copy()
    del no_dose.obs["dose"]
    with pytest.raises(KeyError, match="needs the dose"):
        CSG2A.setup_anndata(no_dose, drug_key="drug", smiles=plate.uns["smiles"])
    edges = pd.DataFrame({"source": ["X1", "X2"], "target": ["X3", "X4"], "weight": [1.0, 1.0]})
    with pytest.raises(ValueError, match="No gene of the 2 edges"):
        CSG2A(tiny, ppi=edges)

    model = CSG2A(tiny, n_hidden=4, n_condition_hidden=8)
    first = str(tiny.obs["drug"].iloc[0])
    with pytest.raises(ValueError, match=f"'{first}': 'C1CC"):
        model.predict(tiny[:1], smiles={first: "C1CC(("}, dose=1.0)
    with pytest.raises(ValueError, match="dose="):
        model.get_attention(tiny[:1], smiles=ASPIRIN, time=24.0)
    with pytest.raises(ValueError, match="negative dose"):
        model.predict(tiny[:2], dose=-1.0)
    with pytest.raises(TypeError, match=r"predicts perturbed profiles.*CSG2AIC50\.from_pretrained"):
        sctl.tl.predict_ic50(_bulk(plate), model)
    with pytest.raises(ValueError, match="`offset` must be one of"):
        CSG2AIC50.from_pretrained(model, _bulk(plate), offset="nearest")
    with pytest.raises(ValueError, match="`n_neighbours`"):
        CSG2AIC50.from_pretrained(model, _bulk(plate), n_neighbours=0)
    with pytest.raises(TypeError, match=r"`pretrained` must be a pretrained sctl\.models\.CSG2A"):
        CSG2AIC50.from_pretrained(object(), _bulk(plate))
    with pytest.warns(UserWarning, match="untrained"):
        CSG2AIC50.from_pretrained(model, _bulk(plate))
    with pytest.raises(KeyError, match="No SMILES known"):
        model.perturbation_distance(_bulk(plate), ["no such drug"], dose=10.0, time=72.0)
    with pytest.raises(ValueError, match="genes"):
        model.predict(plate[:2, 40:80])


def test_pretraining_on_lincs_beats_zero_change_and_mean_shift(plate):
    """Real pretraining, held-out doses 0.37 and 3.33 µM of the 14 drugs (the others train)."""
    start = time.perf_counter()
    held_out = np.isclose(plate.obs["dose"].to_numpy()[:, None], [0.37, 3.33]).any(axis=1)
    train, test = plate[~held_out].copy(), plate[held_out].copy()
    CSG2A.setup_anndata(train, drug_key="drug", smiles=plate.uns["smiles"])
    model = CSG2A(train, ppi=sctl.datasets.ppi()).train(max_epochs=100, lr=3e-3, batch_size=16)
    predicted = model.predict(test).to_numpy()
    elapsed = time.perf_counter() - start

    observed, basal = test.X, test.layers["sctl_basal"]
    train_delta = train.X - train.layers["sctl_basal"]
    drug_codes = train.obs["drug"].astype(str).to_numpy()
    drug_shift = {d: train_delta[drug_codes == d].mean(0) for d in np.unique(drug_codes)}
    baselines = {
        "zero_change": basal,
        "mean_shift": basal + train_delta.mean(0),
        "drug_mean_shift": basal + np.stack([drug_shift[d] for d in test.obs["drug"].astype(str)]),
    }

    def rmse(pred):
        return float(np.sqrt(((observed - pred) ** 2).mean()))

    scores = {"csg2a": rmse(predicted), **{name: rmse(pred) for name, pred in baselines.items()}}
    print(f"\nCSG2A pretraining on L1000 (held-out doses, {test.n_obs} profiles, {elapsed:.1f} s): RMSE {scores}")
    assert scores["csg2a"] < scores["zero_change"]
    assert scores["csg2a"] < scores["mean_shift"]
