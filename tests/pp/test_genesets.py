import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sctl

GENES = [f"g{i}" for i in range(12)]


def _sets() -> pd.DataFrame:
    rows = [("P1", f"g{i}") for i in range(5)] + [("P2", f"g{i}") for i in range(4, 12)]
    # P3 lies mostly outside the genes; P1 lists g0 twice
    rows += [("P3", "g0"), ("P3", "x1"), ("P3", "x2"), ("P1", "g0")]
    return pd.DataFrame(rows, columns=["source", "target"])


def test_pathway_mask_marks_members():
    mask = sctl.pp.pathway_mask(_sets(), GENES, min_genes=3)
    assert list(mask.columns) == ["P1", "P2"]
    assert list(mask.index) == GENES
    assert mask.to_numpy().dtype == np.float32
    np.testing.assert_array_equal(mask["P1"], [1] * 5 + [0] * 7)
    np.testing.assert_array_equal(mask["P2"], [0] * 4 + [1] * 8)


def test_pathway_mask_min_max_and_dict():
    mask = sctl.pp.pathway_mask(_sets(), GENES, min_genes=1, max_genes=5)
    assert list(mask.columns) == ["P1", "P3"]
    assert mask["P3"].sum() == 1
    as_dict = sctl.pp.pathway_mask({"A": ["g1", "g2"], "B": ["g3"]}, pd.Index(GENES), min_genes=2)
    assert list(as_dict.columns) == ["A"]
    assert as_dict["A"].sum() == 2


def test_pathway_mask_accepts_extra_columns():
    sets = _sets().assign(weight=1.0)
    assert sctl.pp.pathway_mask(sets, GENES, min_genes=3).shape == (12, 2)


def test_pathway_mask_errors():
    with pytest.raises(ValueError, match=r"largest overlap is 8 genes \('P2'\).*min_genes"):
        sctl.pp.pathway_mask(_sets(), GENES, min_genes=9)
    with pytest.raises(KeyError, match=r"'source'.*rename"):
        sctl.pp.pathway_mask(pd.DataFrame({"geneset": ["A"], "target": ["g1"]}), GENES)
    with pytest.raises(ValueError, match="duplicated"):
        sctl.pp.pathway_mask(_sets(), ["g1", "g1"])
    with pytest.raises(ValueError, match="min_genes"):
        sctl.pp.pathway_mask(_sets(), GENES, min_genes=5, max_genes=2)


def test_ppi_adjacency_weights_symmetry_and_self_loops():
    edges = pd.DataFrame(
        {
            "source": ["g0", "g1", "g1", "g2", "g3", "zz"],
            "target": ["g1", "g0", "g2", "g2", "zz", "g0"],
            "score": [0.9, 0.4, 0.5, 0.7, 0.8, 0.1],
        }
    )
    adj = sctl.pp.ppi_adjacency(edges, ["g0", "g1", "g2", "g3"], weight="score")
    assert sparse.isspmatrix_csr(adj)
    assert adj.dtype == np.float32
    assert adj.shape == (4, 4)
    expected = np.array(
        [[1, 0.9, 0, 0], [0.9, 1, 0.5, 0], [0, 0.5, 1, 0], [0, 0, 0, 1]], dtype=np.float32
    )  # duplicates keep the largest weight; the self-edge of g2 becomes the self-loop 1
    np.testing.assert_allclose(adj.toarray(), expected)
    directed = sctl.pp.ppi_adjacency(edges, ["g0", "g1", "g2", "g3"], weight="score", symmetric=False, self_loops=False)
    np.testing.assert_allclose(directed.toarray(), [[0, 0.9, 0, 0], [0.4, 0, 0.5, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    unweighted = sctl.pp.ppi_adjacency(edges[["source", "target"]], ["g0", "g1", "g2"])
    np.testing.assert_array_equal(unweighted.toarray(), [[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    assert sctl.pp.ppi_adjacency(edges, ["g0", "g1"], weight=None).toarray().max() == 1


def test_ppi_adjacency_errors():
    edges = pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"], "score": [1.0, np.nan]})
    with pytest.raises(ValueError, match=r"No gene of the 2 edges.*identifiers"):
        sctl.pp.ppi_adjacency(edges, ["x", "y"])
    with pytest.raises(KeyError, match=r"'weight_col'.*weight=None"):
        sctl.pp.ppi_adjacency(edges, ["a", "b"], weight="weight_col")
    with pytest.raises(ValueError, match="missing or non-numeric"):
        sctl.pp.ppi_adjacency(edges, ["a", "b"], weight="score")
    with pytest.raises(KeyError, match="target"):
        sctl.pp.ppi_adjacency(edges.rename(columns={"target": "to"}), ["a", "b"])
    with pytest.warns(UserWarning, match="no edge"):
        adj = sctl.pp.ppi_adjacency(edges[["source", "target"]], ["a", "c"])
    np.testing.assert_array_equal(adj.toarray(), np.eye(2))


def test_real_gene_sets_and_ppi(shared_data):
    """PROGENy weights and the STRING example edges of the real-data kit, on a few hundred genes."""
    progeny = pd.read_csv(shared_data / "genesets" / "progeny_human.csv.gz")
    edges = pd.read_csv(shared_data / "ppi" / "string_example_edges.csv.gz")
    sets = progeny.rename(columns={"pathway": "source", "gene": "target"})
    genes = pd.unique(pd.concat([sets["target"].iloc[:3000], edges["source"].iloc[:500]]))
    mask = sctl.pp.pathway_mask(sets, genes, min_genes=10)
    assert mask.shape[0] == len(genes)
    assert 1 <= mask.shape[1] <= 14
    assert (mask.sum(axis=0) >= 10).all()
    adj = sctl.pp.ppi_adjacency(edges, genes, weight="combined_score")
    assert adj.shape == (len(genes), len(genes))
    assert (adj != adj.T).nnz == 0
    assert adj.nnz > len(genes)
