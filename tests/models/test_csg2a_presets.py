"""CSG²A as its paper describes it (preset="paper") and the switches behind it; regression tests of issue 18."""

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from scipy import stats

import sctl
from sctl.models import CSG2A, CSG2AIC50
from sctl.models.csg2a._preset_tables import IC50_INIT_PRESETS, IC50_TRAIN_PRESETS, INIT_PRESETS, TRAIN_PRESETS

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
    assert IC50_INIT_PRESETS["paper"]["scaling"] == "scalar"
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
    frozen = CSG2AIC50.from_pretrained(model, bulk).train(max_epochs=2, callbacks=[Grads()], **QUIET)
    assert {(frozenset(a), frozenset(b)) for a, b in grads} == {(frozenset({False}), frozenset({True}))}
    assert all(torch.equal(before[k], v) for k, v in frozen.module.network.state_dict().items())
    trained = CSG2AIC50.from_pretrained(model, bulk).train(max_epochs=2, freeze=False, **QUIET)
    assert not torch.equal(before["attention.w_gene"], trained.module.network.attention.w_gene)
    assert trained.train_params_["freeze"] is False
    assert not any(p.requires_grad for p in trained.module.network.parameters())  # frozen again once fine-tuned


def test_scaling_layer_is_two_scalars_in_the_paper_and_per_gene_in_sctl(tiny, bulk):
    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    head = CSG2AIC50.from_pretrained(model, bulk).train(max_epochs=1, **QUIET).module.head
    assert head.mu.shape == head.log_sigma.shape == (40,)
    head = CSG2AIC50.from_pretrained(model, bulk, scaling="scalar").train(max_epochs=1, **QUIET).module.head
    assert head.mu.shape == head.log_sigma.shape == (1,)
    with pytest.raises(ValueError, match="`scaling` must be one of"):
        CSG2AIC50.from_pretrained(model, bulk, scaling="pathway")


def test_cosine_schedule_of_the_authors_fine_tuning(tiny, bulk):
    rates = []

    class Rates(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            rates.append(trainer.optimizers[0].param_groups[0]["lr"])

    model = CSG2A(tiny, **SMALL).train(max_epochs=1, **QUIET)
    ic50 = CSG2AIC50.from_pretrained(model, bulk)
    kwargs = {"lr": 1e-3, "lr_final": 1e-5, "lr_epochs": 2, "max_epochs": 4, "callbacks": [Rates()], **QUIET}
    ic50.train(lr_schedule="cosine", **kwargs)
    np.testing.assert_allclose(rates, [1e-3, (1e-3 + 1e-5) / 2, 1e-5, 1e-5], rtol=1e-6)
    rates.clear()
    ic50.train(**kwargs)  # sctl: constant
    np.testing.assert_allclose(rates, [1e-3] * 4)
    with pytest.raises(ValueError, match="`lr_schedule`"):
        ic50.train(lr_schedule="step", **QUIET)


def test_paper_preset_trains_predicts_and_round_trips(tiny, bulk, tmp_path):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), preset="paper", n_hidden=8)
    model.train(max_epochs=3, **QUIET)
    assert model.train_params_ == {**TRAIN_PRESETS["paper"], "max_epochs": 3}
    assert len(model.history_["validation_loss"]) >= 1  # the paper preset validates on 10 % (early stopping)
    ic50 = CSG2AIC50.from_pretrained(model, bulk).train(max_epochs=3, **QUIET)  # the pretrained model's preset
    for name, value in IC50_INIT_PRESETS["paper"].items():
        assert ic50.init_params_[name] == value, name
    for name, value in IC50_TRAIN_PRESETS["paper"].items():
        assert ic50.train_params_[name] == (3 if name == "max_epochs" else value), name
    assert ic50.module.head.mu.shape == (1,)
    assert len(ic50.module.head.regressor) == 7  # 3 x 512 -> 512 -> 64 -> 1 (authors' code)
    predicted = ic50.predict(bulk)
    assert predicted.shape == (30, 4)
    assert np.isfinite(predicted.to_numpy()).all()
    model.save(tmp_path / "paper")
    ic50.save(tmp_path / "paper_ic50")
    loaded = CSG2A.load(tmp_path / "paper")
    assert loaded.init_params_["preset"] == "paper"
    assert "preset='paper'" in repr(loaded)
    assert loaded.train_params_ == model.train_params_
    loaded_ic50 = CSG2AIC50.load(tmp_path / "paper_ic50")
    assert loaded_ic50.train_params_ == ic50.train_params_
    np.testing.assert_array_equal(loaded_ic50.predict(bulk).to_numpy(), predicted.to_numpy())
    np.testing.assert_array_equal(loaded.predict(tiny).to_numpy(), model.predict(tiny).to_numpy())
    out = sctl.tl.predict_ic50(bulk, loaded_ic50, copy=True)
    assert out.uns["sctl_ln_ic50"]["params"]["preset"] == "paper"
    assert CSG2AIC50.from_pretrained(model, bulk, preset="sctl").init_params_["offset"] == "neighbours"


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
    ic50 = CSG2AIC50.from_pretrained(
        model, bulk, drugs=["Trametinib", "Dasatinib", "Erlotinib"], drug_features=table.loc[["Paclitaxel"]]
    ).train(max_epochs=2, **QUIET)
    predicted = ic50.predict(bulk, ["Trametinib", "Paclitaxel"])  # an unseen drug through its embedding
    assert predicted.shape == (30, 2)
    assert np.isfinite(predicted.to_numpy()).all()
    # the fine-tuned model keeps the embeddings given to it; the pretrained one takes them again
    with pytest.raises(KeyError, match="No drug embedding for 'Paclitaxel'"):
        sctl.tl.perturbation_distance(bulk, model, {"Paclitaxel": "Paclitaxel"}, dose=10.0, time=72.0)
    extra = table.loc[["Paclitaxel"]]
    sctl.tl.perturbation_distance(bulk, model, ["Paclitaxel"], dose=10.0, time=72.0, drug_features=extra)


def test_attention_at_the_fine_tuning_stage_and_without_the_prior(tiny, bulk):
    model = CSG2A(tiny, ppi=sctl.datasets.ppi(), **SMALL).train(max_epochs=1, **QUIET)
    with pytest.raises(RuntimeError, match="fine-tuned"):
        model.get_attention(bulk[:3], drug="Trametinib", stage="finetuned")
    ic50 = CSG2AIC50.from_pretrained(model, bulk).train(max_epochs=1, **QUIET)
    finetuned = ic50.get_attention(bulk[:3], drug="Trametinib", stage="finetuned")
    head, network = ic50.module.head, ic50.module.network
    x = torch.as_tensor(np.asarray(bulk[:3].X, dtype=np.float32))
    basal = head.scale((x - head.bulk_center) / head.bulk_scale)
    features = sctl.models.csg2a._data.featurize({"t": ic50.fitted_["drugs"]["Trametinib"]}, 1024)
    with torch.no_grad():
        condition = network.encoder(features.expand(3, -1), torch.full((3,), 10.0), torch.full((3,), 72.0))
        expected = network.attention.weights(basal, condition).mean(0).numpy()
    np.testing.assert_allclose(finetuned.to_numpy(), expected, atol=1e-5)
    pretrained = model.get_attention(bulk[:3], drug="Trametinib", dose=10.0, time=72.0)
    assert not np.allclose(pretrained.to_numpy(), finetuned.to_numpy(), atol=1e-3)
    np.testing.assert_allclose(
        ic50.get_attention(bulk[:3], drug="Trametinib", stage="pretrained", dose=10.0, time=72.0).to_numpy(),
        pretrained.to_numpy(),
        atol=1e-6,
    )  # the same network (no biases: sctl's preset has none) behind the pretraining z-scores
    without = ic50.get_attention(bulk[:3], drug="Trametinib", stage="finetuned", include_prior=False)
    prior = network.attention.prior_matrix().numpy()
    assert not np.allclose(without.to_numpy(), finetuned.to_numpy())
    np.testing.assert_allclose(finetuned.to_numpy() - without.to_numpy(), prior, atol=1e-4)
    with pytest.raises(ValueError, match="`stage` must be one of"):
        ic50.get_attention(bulk[:3], drug="Trametinib", stage="pretraining")
    # the paper's comparison of maps by mechanism, at the fine-tuning stage
    drugs = ["Trametinib", "Dasatinib", "Erlotinib"]
    moa = {"Trametinib": "MEK", "Dasatinib": "kinase", "Erlotinib": "kinase"}
    out = sctl.tl.attention_similarity(bulk[:3], ic50, drugs, moa=moa, stage="finetuned", n_perms=5, copy=True)
    maps = {d: ic50.get_attention(bulk[:3], drug=d, stage="finetuned") for d in drugs}
    expected = sctl.tl._attention_similarity.map_correlation(maps)
    result = out.uns["sctl_attention_similarity"]
    np.testing.assert_allclose(result["correlation"].to_numpy(), expected.to_numpy(), atol=1e-6)
    assert result["params"]["stage"] == "finetuned"
    assert result["params"]["time"] is None
    figure = sctl.pl.attention_map(bulk[:3], ic50, drugs[:2], stage="finetuned", n_top=5, show=False)
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
    with pytest.raises(KeyError, match=r"No response matrix `adata\.obsm\['no_such_table'\]`"):
        sctl.tl.perturbation_distance(bulk, model, drugs, dose=10.0, time=72.0, sensitivity="no_such_table", copy=True)
