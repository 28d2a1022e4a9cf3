"""CSG²A as its paper describes it (preset="paper") and the switches behind it; regression tests of issue 18."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from scipy import stats

import sctl
from sctl.models import CSG2A
from sctl.models.csg2a._model import FINETUNE_PRESETS, INIT_PRESETS, TRAIN_PRESETS

QUIET = {"enable_progress_bar": False}
SMALL = {"n_hidden": 4, "n_condition_hidden": 8}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def plate():
    lincs, bulk = sctl.datasets.lincs(), sctl.datasets.gdsc()
    genes = bulk.var_names[bulk.var["landmark"].to_numpy()].intersection(lincs.var_names)[:40]
    sctl.pp.match_controls(lincs, control="DMSO")
    table = bulk.uns["sctl_drugs"].dropna(subset=["lincs_name"])
    smiles = dict(zip(table["lincs_name"], table["smiles"], strict=True))
    treated = lincs[lincs.obs["drug"].astype(str).isin(smiles), genes].copy()
    treated.uns["smiles"] = smiles
    return treated


@pytest.fixture
def tiny(plate):
    adata = plate.copy()
    CSG2A.setup_anndata(adata, drug_key="drug", smiles=plate.uns["smiles"])
    return adata


@pytest.fixture(scope="module")
def bulk(plate):
    bulk = sctl.datasets.gdsc()[:30, plate.var_names].copy()
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["Trametinib", "Dasatinib", "Erlotinib", "Paclitaxel"]]
    return bulk


def _string_scale(edges: pd.DataFrame) -> pd.DataFrame:
    """The shipped network on STRING's 0-1000 combined-score scale, as `read_ppi(path, min_weight=900)` gives."""
    edges = edges.copy()
    edges["weight"] = 900 + 99 * edges["weight"]
    return edges


def test_ppi_prior_is_binary_by_default_and_raw_weights_above_one_warn(tiny):
    """The paper's adjacency is 0/1; raw STRING scores (900-999) used to swamp attention scores near 1."""
    edges = _string_scale(sctl.datasets.ppi())
    for preset in ("sctl", "paper"):
        layer = CSG2A(tiny, ppi=edges, preset=preset, **SMALL).module.attention
        assert set(np.unique(layer.prior_matrix().numpy())) == {0.0, 1.0}
        assert torch.equal(torch.diagonal(layer.prior_matrix()), torch.ones(40))
    with pytest.warns(UserWarning, match=r"weights up to 9\d\d"):
        raw = CSG2A(tiny, ppi=edges, ppi_weights="raw", **SMALL).module.attention
    assert raw.prior_weight.max() > 900
    with pytest.raises(ValueError, match="`ppi_weights` must be one of"):
        CSG2A(tiny, ppi=edges, ppi_weights="scaled")


def test_paper_preset_sets_the_paper_network_and_user_values_win(tiny):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), preset="paper")
    params = model.init_params_
    assert params["preset"] == "paper"
    for name, value in INIT_PRESETS["paper"].items():
        assert params[name] == value, name
    module = model.module
    assert module.attention.attention == "full"
    assert module.attention.n_hidden == 64
    assert module.residual is False
    assert module.attention.use_prior
    linears = [layer for layer in module.encoder.mlp if isinstance(layer, torch.nn.Linear)]
    assert len(linears) == 1
    assert linears[0].out_features == 40
    assert not any(name.endswith("bias") for name, _ in module.named_parameters() if "encoder.mlp" in name)
    assert "preset='paper'" in repr(model)
    # the sctl preset keeps the measured defaults; a value passed explicitly wins over either preset
    sctl_model = CSG2A(tiny, ppi=sctl.datasets.ppi())
    assert sctl_model.init_params_["attention"] == "ppi"
    assert sctl_model.module.residual is True
    assert CSG2A(tiny, preset="paper", n_hidden=8, residual=True).module.attention.n_hidden == 8
    assert TRAIN_PRESETS["paper"]["lr"] == 1e-4
    assert FINETUNE_PRESETS["paper"]["scaling"] == "scalar"
    with pytest.raises(ValueError, match="Unknown preset"):
        CSG2A(tiny, preset="published")


def test_residual_and_zero_prior_switches(tiny):
    basal, condition = torch.randn(3, 40), torch.randn(3, 40)
    features, ones = torch.rand(3, 13 + 1024), torch.ones(3)
    residual = CSG2A(tiny, ppi=sctl.datasets.ppi(), **SMALL)
    plain = CSG2A(tiny, ppi=sctl.datasets.ppi(), residual=False, **SMALL)
    plain.module.load_state_dict(residual.module.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(
            residual.module(basal, features, ones, ones)["predicted"] - basal,
            plain.module(basal, features, ones, ones)["predicted"],
        )
    zero = CSG2A(tiny, ppi=sctl.datasets.ppi(), ppi_weights="zero", attention="full", **SMALL)
    binary = CSG2A(tiny, ppi=sctl.datasets.ppi(), attention="full", **SMALL)
    binary.module.load_state_dict(zero.module.state_dict())
    layer = zero.module.attention
    expected = torch.einsum("bij,bj->bi", binary.module.attention.weights(basal, condition, include_prior=False), basal)
    torch.testing.assert_close(layer(basal, condition), expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(binary.module.attention(basal, condition), expected, atol=1e-3)


def test_fine_tuning_freezes_the_network_or_trains_it(tiny, bulk):
    """The paper freezes every pretrained parameter; `freeze=False` is its ablation (the network trains too)."""
    grads = []

    class Grads(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            loss = pl_module.module
            grads.append(
                (
                    {p.requires_grad for p in loss.network.parameters()},
                    {p.requires_grad for p in loss.head.parameters()},
                )
            )

    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), **SMALL).train(max_epochs=1, **QUIET)
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    model.finetune_ic50(bulk, max_epochs=2, callbacks=[Grads()], **QUIET)
    assert {(frozenset(a), frozenset(b)) for a, b in grads} == {(frozenset({False}), frozenset({True}))}
    assert all(torch.equal(before[k], v) for k, v in model.module.state_dict().items())
    model.finetune_ic50(bulk, max_epochs=2, freeze=False, **QUIET)
    assert not torch.equal(before["attention.w_gene"], model.module.attention.w_gene)
    assert model.finetune_["freeze"] is False
    assert not any(p.requires_grad for p in model.module.parameters())  # frozen again once fine-tuned


def test_scaling_layer_is_two_scalars_in_the_paper_and_per_gene_in_sctl(tiny, bulk):
    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    model.finetune_ic50(bulk, max_epochs=1, **QUIET)
    assert model.head.mu.shape == model.head.log_sigma.shape == (40,)
    model.finetune_ic50(bulk, max_epochs=1, scaling="scalar", **QUIET)
    assert model.head.mu.shape == model.head.log_sigma.shape == (1,)
    with pytest.raises(ValueError, match="`scaling` must be one of"):
        model.finetune_ic50(bulk, max_epochs=1, scaling="pathway", **QUIET)


def test_cosine_schedule_of_the_authors_fine_tuning(tiny, bulk):
    rates = []

    class Rates(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            rates.append(trainer.optimizers[0].param_groups[0]["lr"])

    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    kwargs = {"lr": 1e-3, "lr_final": 1e-5, "lr_epochs": 2, "max_epochs": 4, "callbacks": [Rates()], **QUIET}
    model.finetune_ic50(bulk, lr_schedule="cosine", **kwargs)
    np.testing.assert_allclose(rates, [1e-3, (1e-3 + 1e-5) / 2, 1e-5, 1e-5], rtol=1e-6)
    rates.clear()
    model.finetune_ic50(bulk, **kwargs)  # sctl: constant
    np.testing.assert_allclose(rates, [1e-3] * 4)
    with pytest.raises(ValueError, match="`lr_schedule`"):
        model.finetune_ic50(bulk, lr_schedule="step", **QUIET)


def test_paper_preset_trains_predicts_and_round_trips(tiny, bulk, tmp_path):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), preset="paper", n_hidden=8)
    model.train(max_epochs=3, **QUIET)
    assert model.train_params_ == {**TRAIN_PRESETS["paper"], "max_epochs": 3}
    assert len(model.history_["validation_loss"]) >= 1  # the paper preset validates on 10 % (early stopping)
    model.finetune_ic50(bulk, max_epochs=3, **QUIET)
    for name, value in FINETUNE_PRESETS["paper"].items():
        assert model.finetune_[name] == (3 if name == "max_epochs" else value), name
    assert model.head.mu.shape == (1,)
    assert len(model.head.regressor) == 7  # 3 x 512 -> 512 -> 64 -> 1 (authors' code)
    predicted = model.predict_ic50(bulk)
    assert predicted.shape == (30, 4)
    assert np.isfinite(predicted.to_numpy()).all()
    model.save(tmp_path / "paper")
    loaded = CSG2A.load(tmp_path / "paper")
    assert loaded.init_params_["preset"] == "paper"
    assert "preset='paper'" in repr(loaded)
    assert loaded.train_params_ == model.train_params_
    np.testing.assert_array_equal(loaded.predict_ic50(bulk).to_numpy(), predicted.to_numpy())
    np.testing.assert_array_equal(loaded.predict(tiny).to_numpy(), model.predict(tiny).to_numpy())
    out = sctl.tl.predict_ic50(bulk, loaded, copy=True)
    assert out.uns["sctl_ln_ic50"]["params"]["preset"] == "paper"


def test_models_saved_before_presets_load_with_their_old_settings(tiny, bulk, tmp_path):
    """No preset, ppi_weights, residual or scaling in old settings: raw stored prior, residual, per-gene scaling."""
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), **SMALL).train(max_epochs=1, **QUIET)
    model.finetune_ic50(bulk, max_epochs=1, **QUIET)
    model.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    for key in ("preset", "ppi_weights", "residual"):
        del meta["init_params"][key]
    for key in ("scaling", "freeze", "lr_schedule", "lr_final", "lr_epochs", "drug_features"):
        del meta["finetune"][key]
    del meta["train_params"]
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    loaded = CSG2A.load(tmp_path / "old")
    assert loaded.init_params_["preset"] == "sctl"
    assert loaded.init_params_["ppi_weights"] == "raw"
    assert loaded.module.residual is True
    assert loaded.head.mu.shape == (40,)
    np.testing.assert_array_equal(loaded.predict_ic50(bulk).to_numpy(), model.predict_ic50(bulk).to_numpy())


def test_precomputed_drug_embeddings_replace_rdkit(plate, bulk, monkeypatch):
    """Drugs embedded by name from `drug_features` (e.g. MAT, as in the paper); RDKit is never called."""
    rng = np.random.default_rng(0)
    names = sorted(set(plate.obs["drug"].astype(str)) | set(bulk.obsm["ln_ic50"].columns))
    table = pd.DataFrame(rng.normal(size=(len(names), 6)), index=names)
    adata = plate.copy()
    monkeypatch.setattr(sctl.pp, "featurize_drugs", lambda *a, **k: pytest.fail("RDKit features were computed"))
    CSG2A.setup_anndata(adata, drug_key="drug", drug_features=table.drop(index="Paclitaxel"))
    model = CSG2A(adata, **SMALL).train(max_epochs=1, **QUIET)
    assert model.module.encoder.mlp[0].in_features == 6 + 4
    first = str(adata.obs["drug"].iloc[0])
    by_name = model.predict(adata[:3], drug=first)
    moved = model.predict(adata[:3], drug=first, drug_features={first: table.loc[first] + 1.0})
    assert not np.allclose(by_name.to_numpy(), moved.to_numpy())  # the embedding is what enters the network
    with pytest.raises(KeyError, match="No embedding or SMILES known for 'Paclitaxel'"):
        model.predict(adata[:3], drug="Paclitaxel")
    with pytest.raises(ValueError, match="all of 6 values"):
        model.predict(adata[:3], drug="Paclitaxel", drug_features={"Paclitaxel": [1.0, 2.0]})
    model.finetune_ic50(
        bulk, drugs=["Trametinib", "Dasatinib", "Erlotinib"], drug_features=table.loc[["Paclitaxel"]], max_epochs=2,
        **QUIET,
    )  # fmt: skip
    predicted = model.predict_ic50(bulk, ["Trametinib", "Paclitaxel"])  # an unseen drug through its embedding
    assert predicted.shape == (30, 2)
    assert np.isfinite(predicted.to_numpy()).all()
    sctl.tl.perturbation_distance(bulk, model, ["Paclitaxel"], dose=10.0, time=72.0)


def test_attention_at_the_fine_tuning_stage_and_without_the_prior(tiny, bulk):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), **SMALL).train(max_epochs=1, **QUIET)
    with pytest.raises(RuntimeError, match="fine-tuned"):
        model.get_attention(bulk[:3], drug="Trametinib", stage="finetuned")
    model.finetune_ic50(bulk, max_epochs=1, **QUIET)
    finetuned = model.get_attention(bulk[:3], drug="Trametinib", stage="finetuned")
    head = model.head
    x = torch.as_tensor(np.asarray(bulk[:3].X, dtype=np.float32))
    basal = head.scale((x - head.bulk_center) / head.bulk_scale)
    features = sctl.models.csg2a._data.featurize({"t": model.finetune_["drugs"]["Trametinib"]}, 1024)
    with torch.no_grad():
        condition = model.module.encoder(features.expand(3, -1), torch.full((3,), 10.0), torch.full((3,), 72.0))
        expected = model.module.attention.weights(basal, condition).mean(0).numpy()
    np.testing.assert_allclose(finetuned.to_numpy(), expected, atol=1e-5)
    pretrained = model.get_attention(bulk[:3], drug="Trametinib", dose=10.0, time=72.0)
    assert not np.allclose(pretrained.to_numpy(), finetuned.to_numpy(), atol=1e-3)
    without = model.get_attention(bulk[:3], drug="Trametinib", stage="finetuned", include_prior=False)
    prior = model.module.attention.prior_matrix().numpy()
    assert not np.allclose(without.to_numpy(), finetuned.to_numpy())
    np.testing.assert_allclose(finetuned.to_numpy() - without.to_numpy(), prior, atol=1e-4)
    with pytest.raises(ValueError, match="`stage` must be one of"):
        model.get_attention(bulk[:3], drug="Trametinib", stage="pretraining")
    # the paper's comparison of maps by mechanism, at the fine-tuning stage
    drugs = ["Trametinib", "Dasatinib", "Erlotinib"]
    moa = {"Trametinib": "MEK", "Dasatinib": "kinase", "Erlotinib": "kinase"}
    out = sctl.tl.attention_similarity(bulk[:3], model, drugs, moa=moa, stage="finetuned", n_perms=5, copy=True)
    maps = {d: model.get_attention(bulk[:3], drug=d, stage="finetuned") for d in drugs}
    expected = sctl.tl._attention_similarity.map_correlation(maps)
    result = out.uns["sctl_attention_similarity"]
    np.testing.assert_allclose(result["correlation"].to_numpy(), expected.to_numpy(), atol=1e-6)
    assert result["params"]["stage"] == "finetuned"
    assert result["params"]["time"] is None
    figure = sctl.pl.attention_map(bulk[:3], model, drugs[:2], stage="finetuned", n_top=5, show=False)
    assert figure.axes[0].get_title() == "Trametinib (10 µM, 72 h)"


def test_top_attention_pairs_give_the_paper_gene_set(tiny):
    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    attention = model.get_attention(tiny[:4], drug="trametinib", dose=10.0, time=72.0, include_prior=False)
    genes = sctl.tl.attention_genes(attention, n_pairs=20)
    values = np.abs(attention.to_numpy())
    pairs = sorted(((values[i, j], i, j) for i in range(40) for j in range(i + 1, 40)), key=lambda t: -t[0])[
        :20
    ]  # brute force over unordered pairs of different genes
    assert set(genes) == {attention.index[k] for _, i, j in pairs for k in (i, j)}
    assert len(sctl.tl.attention_genes(attention)) <= 40  # default: the paper's 1,000 pairs
    with pytest.raises(ValueError, match="`n_pairs`"):
        sctl.tl.attention_genes(attention, n_pairs=0)


def test_zero_shot_statistics_of_the_paper(tiny, bulk):
    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    drugs = list(bulk.obsm["ln_ic50"].columns)
    out = sctl.tl.perturbation_distance(bulk, model, drugs, dose=10.0, time=72.0, sensitivity="ln_ic50", copy=True)
    summary = out.uns["sctl_perturbation_distance"]["zero_shot"]
    distance = out.obsm["sctl_perturbation_distance"].to_numpy()
    response = bulk.obsm["ln_ic50"][drugs].to_numpy()
    mean = np.nanmean(response, axis=1, keepdims=True)
    sensitive, resistant = distance[response < mean], distance[response > mean]
    expected = stats.ttest_ind(sensitive, resistant, equal_var=False, alternative="greater")
    assert summary["n_sensitive"] == len(sensitive)
    assert summary["n_resistant"] == len(resistant)
    assert summary["pvalue"] == pytest.approx(expected.pvalue)
    per_line = out.obs["sctl_perturbation_distance_pearson"]
    row = np.isfinite(response[0])
    assert per_line.iloc[0] == pytest.approx(stats.pearsonr(distance[0, row], response[0, row])[0])
    assert summary["share_negative"] == pytest.approx((per_line.dropna() < 0).mean())
    assert out.uns["sctl_perturbation_distance"]["params"]["preset"] == "sctl"
    with pytest.raises(KeyError, match=r"not in adata\.obsm"):
        sctl.tl.perturbation_distance(bulk, model, drugs, dose=10.0, time=72.0, sensitivity="no_such_table", copy=True)
