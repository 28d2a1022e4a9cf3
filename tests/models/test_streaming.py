"""Prediction streams over the rows of a backed .h5ad: same numbers as in memory, chunk by chunk."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

import sctl._stream as stream
from sctl.models import PathwayTransfer, transfer_data
from sctl.models.baselines import LogisticBaseline

from ._transfer_data import DRUG, bulk_and_cells

torch.set_num_threads(1)
N_CELLS = 3000


@pytest.fixture(scope="module")
def trained():
    """A tiny PathwayTransfer (1 epoch) and a logistic baseline, plus 3,000 cells with shuffled, extra genes."""
    bulk, cells = bulk_and_cells()
    data = transfer_data(bulk, cells, DRUG)
    PathwayTransfer.setup_anndata(data)
    model = PathwayTransfer(data, seed=0)
    model.train(max_epochs=1, seed=0, enable_progress_bar=False)
    baseline = LogisticBaseline(seed=0).fit(data[data.obs["sctl_domain"] == "bulk"].copy())
    rng = np.random.default_rng(0)
    genes = [*model.var_names, "EXTRA1", "EXTRA2"]
    order = rng.permutation(len(genes))
    X = rng.gamma(0.3, 2.0, size=(N_CELLS, len(genes))).astype(np.float32)
    X[X < 0.5] = 0  # sparse-looking, as log-normalised counts
    X[:, genes.index(model.var_names[0])] = 1.5  # a constant gene
    var = pd.DataFrame(index=pd.Index(np.array(genes)[order]))
    return model, baseline, X[:, order], var


def _write(tmp_path, X, var, kind):
    matrix = sparse.csr_matrix(X) if kind == "csr" else X
    obs = pd.DataFrame(index=[f"c{i}" for i in range(X.shape[0])])
    path = tmp_path / f"cells_{kind}.h5ad"
    ad.AnnData(matrix, obs=obs, var=var).write_h5ad(path)
    return path


def _spy_reads(monkeypatch):
    calls = []
    original = stream.read_rows

    def spy(rows, start, stop):
        calls.append((start, stop))
        return original(rows, start, stop)

    monkeypatch.setattr(stream, "read_rows", spy)
    return calls


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_backed_predictions_equal_in_memory(tmp_path, trained, kind):
    model, baseline, X, var = trained
    path = _write(tmp_path, X, var, kind)
    memory = ad.read_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        assert backed.isbacked
        expected = model.predict(memory)
        np.testing.assert_allclose(model.predict(backed, chunk_size=700), expected, atol=1e-5)
        np.testing.assert_allclose(
            model.get_latent_representation(backed, chunk_size=1000),
            model.get_latent_representation(memory),
            atol=1e-5,
        )
        np.testing.assert_allclose(baseline.predict(backed), baseline.predict(memory), atol=1e-5)
    finally:
        backed.file.close()


def test_streamed_standardisation_matches_whole_matrix(trained):
    model, _, X, var = trained
    cells = ad.AnnData(X, var=var)
    assert model.standardize_rows_  # trained on profile-wise z-scores: cells get them too
    whole, _ = model._input_matrix(cells, None, True)
    ready = X[:, cells.var_names.get_indexer(model.var_names)]
    for by_row in (False, True):
        expected = stream.zscore_rows(ready) if by_row else ready
        mean, std = expected.mean(0, dtype=np.float64), expected.std(0, dtype=np.float64)
        rows = stream.rows_of(cells, None, model.var_names)
        for chunk_size in (1, 7, 1000, N_CELLS):
            for source in (rows, stream.Rows(sparse.csr_matrix(X), rows.columns)):
                source = stream.Rows(source.X, source.columns, standardize_rows=by_row)
                got_mean, got_std = stream.column_mean_std(source, chunk_size)
                np.testing.assert_allclose(got_mean, mean, rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(got_std, std, rtol=1e-5, atol=1e-6)
    rows_z = stream.zscore_rows(ready)
    np.testing.assert_allclose(rows_z.mean(1), 0.0, atol=1e-5)
    np.testing.assert_allclose(rows_z.std(1), 1.0, atol=1e-4)
    np.testing.assert_allclose(whole, (rows_z - rows_z.mean(0)) / rows_z.std(0), atol=1e-4)
    np.testing.assert_allclose(stream.zscore_rows(np.ones((2, 3))), 0.0)  # a constant profile becomes 0


def test_chunk_size_is_honoured(tmp_path, trained, monkeypatch):
    model, baseline, X, var = trained
    backed = ad.read_h5ad(_write(tmp_path, X, var, "csr"), backed="r")
    try:
        calls = _spy_reads(monkeypatch)
        model.predict(backed, chunk_size=1000)
        # two passes (column statistics, then scoring), each in 3 chunks of at most 1000 rows
        assert calls == [(0, 1000), (1000, 2000), (2000, 3000)] * 2
        calls.clear()
        model.predict(backed, standardize=False, chunk_size=1200)
        assert calls == [(0, 1200), (1200, 2400), (2400, 3000)]
        calls.clear()
        baseline.chunk_size = 2000
        baseline.predict(backed)
        assert calls == [(0, 2000), (2000, 3000)]
    finally:
        backed.file.close()


def test_chunked_errors(trained):
    model, _, X, var = trained
    cells = ad.AnnData(X.copy(), var=var)
    with pytest.raises(ValueError, match="positive integer"):
        model.predict(cells, chunk_size=0)
    cells.X[2500, 0] = np.nan  # found in a late chunk, before anything is returned
    with pytest.raises(ValueError, match="contains 1 NaN"):
        model.predict(cells, chunk_size=1000)
