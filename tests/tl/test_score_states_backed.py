"""``sctl.tl.score_states`` on an AnnData opened with ``backed="r"``: streamed in chunks, same scores as in memory."""

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

import sctl
from sctl.tl import _state_kernels

N_CELLS, CHUNK = 150, 40


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    cells = sctl.datasets.tumor(n_cells=N_CELLS, seed=1)
    cells.X = sparse.csr_matrix(cells.X, dtype=np.float32)
    cells.obs = cells.obs[[]]
    path = tmp_path_factory.mktemp("backed") / "cells.h5ad"
    cells.write_h5ad(path)
    return cells, path


@pytest.mark.parametrize("method", ["ssgsea", "ulm", "aucell", "zscore", "mlm", "viper"])
def test_backed_scores_equal_in_memory_and_read_in_chunks(on_disk, method, monkeypatch):
    cells, path = on_disk
    memory = cells.copy()
    sctl.tl.score_states(memory, method=method)

    blocks = []

    def spy(rows, chunk_size):
        for start, block in sctl._stream.iter_chunks(rows, chunk_size):
            blocks.append((start, block.shape[0], sparse.issparse(block)))
            yield start, block

    monkeypatch.setattr(_state_kernels, "iter_chunks", spy)
    backed = ad.read_h5ad(path, backed="r")
    sctl.tl.score_states(backed, method=method, chunk_size=CHUNK)
    assert backed.isbacked  # nothing loaded the matrix into memory
    assert [b[:2] for b in blocks] == [(0, 40), (40, 40), (80, 40), (120, 30)]
    assert all(is_sparse for *_, is_sparse in blocks)  # read as stored, densified one chunk at a time
    np.testing.assert_allclose(
        backed.obsm["sctl_states"].to_numpy(), memory.obsm["sctl_states"].to_numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(backed.obs["sctl_resistance_index"], memory.obs["sctl_resistance_index"], atol=1e-5)
    assert (backed.obs["sctl_state_call"] == memory.obs["sctl_state_call"]).all()
    assert backed.uns["sctl_states"]["params"]["method"] == method
    backed.file.close()


def test_backed_gsva_and_non_finite_chunks_raise(on_disk, tmp_path):
    _, path = on_disk
    backed = ad.read_h5ad(path, backed="r")
    with pytest.raises(ValueError, match="method='gsva' cannot stream a backed AnnData"):
        sctl.tl.score_states(backed, method="gsva")
    backed.file.close()

    bad = ad.read_h5ad(path)
    bad.X = bad.X.toarray()
    bad.X[N_CELLS - 1, 3] = np.nan  # in the last chunk only
    bad.write_h5ad(tmp_path / "bad.h5ad")
    backed = ad.read_h5ad(tmp_path / "bad.h5ad", backed="r")
    with pytest.raises(ValueError, match=r"`adata.X` contains 1 NaN and 0 infinite values"):
        sctl.tl.score_states(backed, chunk_size=CHUNK)
    assert "sctl_states" not in backed.obsm  # nothing half-written
    backed.file.close()
