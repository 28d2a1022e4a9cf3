import gzip

import numpy as np
import pandas as pd
import pytest

import sctl.datasets as ds


def write(path, text):
    path.write_text(text)
    return path


def test_read_gmt_real_go_bp(shared_data):
    net = ds.read_gmt(shared_data / "genesets" / "go_bp_2023.gmt.gz")
    assert list(net.columns) == ["source", "target"]
    sizes = net.groupby("source").size()
    assert len(sizes) == 5407  # data README
    assert sizes.min() == 5
    assert sizes.max() == 2028
    assert sizes.median() == 15
    assert net["target"].nunique() == 14698
    assert not (net["target"] == "").any()
    assert not net.duplicated().any()


def test_read_gmt_real_reactome_sizes(shared_data):
    path = shared_data / "genesets" / "reactome_2021.gmt.gz"
    net = ds.read_gmt(path)
    assert net["source"].nunique() == 2504
    filtered = ds.read_gmt(path, min_size=15, max_size=500)
    sizes = filtered.groupby("source").size()
    assert sizes.between(15, 500).all()
    assert 0 < len(sizes) < 2504


def test_read_gmt_enrichr_quirks(tmp_path):
    path = tmp_path / "sets.gmt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(
            "SET A (GO:1)\t\tTP53\tEGFR\tTP53\tBRAF\t\n\nSET B\tdesc\tKRAS\t\r\nSET A (GO:1)\t\tEGFR\tBRAF\tTP53\n"
        )
    net = ds.read_gmt(path)  # a set repeated with the same genes (in any order) is kept once
    assert net.to_dict("list") == {
        "source": ["SET A (GO:1)", "SET A (GO:1)", "SET A (GO:1)", "SET B"],
        "target": ["TP53", "EGFR", "BRAF", "KRAS"],
    }
    assert ds.read_gmt(path, min_size=2)["source"].unique().tolist() == ["SET A (GO:1)"]
    assert ds.read_gmt(path, max_size=1)["source"].unique().tolist() == ["SET B"]


def test_read_gmt_errors(tmp_path):
    path = write(tmp_path / "bad.gmt", "S1\td\tG1\nS2 d G2 G3\n")
    with pytest.raises(ValueError, match="Line 2 of the GMT file has 1 tab-separated field"):
        ds.read_gmt(path)
    with pytest.raises(ValueError, match=r"Line 1 .* empty gene-set name"):
        ds.read_gmt(write(tmp_path / "noname.gmt", "\td\tG1\n"))
    with pytest.raises(ValueError, match=r"min_size.*larger than.*max_size"):
        ds.read_gmt(write(tmp_path / "ok.gmt", "S1\td\tG1\n"), min_size=5, max_size=2)


def test_read_ppi_real(shared_data):
    net = ds.read_ppi(shared_data / "ppi" / "string_example_edges.csv.gz")
    assert list(net.columns) == ["source", "target", "weight"]
    assert len(net) == 8297  # data README
    assert len(set(net["source"]) | set(net["target"])) == 1882
    assert net["weight"].between(0.1, 1.0).all()
    assert (net["source"] < net["target"]).all()
    assert len(ds.read_ppi(shared_data / "ppi" / "string_example_edges.csv.gz", min_weight=0.5)) < 8297


def test_read_ppi_undirected_dedup(tmp_path):
    path = write(
        tmp_path / "links.txt",
        "protein1 protein2 combined_score\nB A 400\nA B 900\nA A 999\nC A 150\n",
    )
    net = ds.read_ppi(path, source="protein1", target="protein2")
    assert net.to_dict("list") == {"source": ["A", "A"], "target": ["B", "C"], "weight": [900.0, 150.0]}
    assert ds.read_ppi(path, source="protein1", target="protein2", min_weight=400)["target"].tolist() == ["B"]
    unweighted = ds.read_ppi(path, source="protein1", target="protein2", weight=None)
    np.testing.assert_array_equal(unweighted["weight"], [1.0, 1.0])


def test_read_ppi_errors(tmp_path):
    path = write(tmp_path / "edges.csv", "gene_a,gene_b,score\nA,B,1\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) 'source', 'target', 'combined_score'.*'gene_a'"):
        ds.read_ppi(path)
    text = write(tmp_path / "text.tsv", "source\ttarget\tcombined_score\nA\tB\thigh\n")
    with pytest.raises(ValueError, match="must be numeric"):
        ds.read_ppi(text)
    assert isinstance(ds.read_ppi(path, source="gene_a", target="gene_b", weight="score"), pd.DataFrame)
