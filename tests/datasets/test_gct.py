import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl.datasets as ds

GCT13 = (
    "#1.3\n"
    "3\t2\t2\t2\n"
    "id\tsymbol\tkind\tS1\tS2\n"
    "pert_dose\tna\tna\t10\t-666\n"
    "pert_iname\tna\tna\tdrugA\tDMSO\n"
    "p1\tTP53\tlm\t1.5\t2.5\n"
    "p2\tEGFR\tlm\t3\tNaN\n"
    "p3\tTP53\tinf\t-1\t0\n"
)
GCT12 = "#1.2\n2\t3\nName\tDescription\tA\tB\tC\ng1\tfirst\t1\t2\t3\ng2\tsecond\t4\t5\t6\n"


def write(path, text):
    path.write_text(text)
    return path


def test_read_gct_real_plate(shared_data):
    plate = ds.read_gct(shared_data / "lincs" / "l1000_LJP005_A375_24H_level3.gct.gz")
    assert plate.shape == (377, 978)
    assert plate.X.dtype == np.float32
    assert plate.var_names[0] == "200814_at"
    assert plate.obs.shape[1] == 35
    assert plate.var.shape[1] == 11
    assert plate.obs["pert_dose"].dtype == np.float64
    assert plate.obs["pert_dose"].max() == 10
    assert plate.obs["pert_dose"].isna().sum() == 26  # DMSO controls carry CMap's -666
    assert plate.obs["pert_type"].value_counts().to_dict() == {
        "trt_cp": 328,
        "ctl_vehicle": 26,
        "trt_poscon": 23,
    }
    assert plate.X[0, 0] == pytest.approx(11.3819)
    by_symbol = ds.read_gct(shared_data / "lincs" / "l1000_LJP005_A375_24H_level3.gct.gz", var_names="pr_gene_symbol")
    assert by_symbol.var_names[0] == "PSME1"
    assert by_symbol.var["rid"].iloc[0] == "200814_at"
    landmarks = (shared_data / "lincs" / "landmark_genes.txt").read_text().split()
    assert list(by_symbol.var_names) == landmarks


def test_read_gct_small_13_plain_and_gzipped(tmp_path):
    plain = ds.read_gct(write(tmp_path / "x.gct", GCT13))
    gz = tmp_path / "x.txt"  # gzip is detected from the content, not the suffix
    with gzip.open(gz, "wt") as handle:
        handle.write(GCT13)
    for adata in (plain, ds.read_gct(gz)):
        assert adata.shape == (2, 3)
        np.testing.assert_allclose(adata.X, [[1.5, 3, -1], [2.5, np.nan, 0]])
        assert adata.obs.loc["S1", "pert_dose"] == 10
        assert np.isnan(adata.obs.loc["S2", "pert_dose"])
        assert list(adata.obs["pert_iname"]) == ["drugA", "DMSO"]
        assert list(adata.var["symbol"]) == ["TP53", "EGFR", "TP53"]
    unique = ds.read_gct(tmp_path / "x.gct", var_names="symbol")
    assert list(unique.var_names) == ["TP53", "EGFR", "TP53-1"]
    assert list(unique.var["rid"]) == ["p1", "p2", "p3"]
    with pytest.raises(KeyError, match=r"not a row-metadata field.*'symbol'"):
        ds.read_gct(tmp_path / "x.gct", var_names="gene")


def test_read_gct_12(tmp_path):
    adata = ds.read_gct(write(tmp_path / "x.gct", GCT12))
    assert adata.shape == (3, 2)
    assert list(adata.var["Description"]) == ["first", "second"]
    np.testing.assert_allclose(adata.X[:, 1], [4, 5, 6])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#1.4\n" + GCT13.split("\n", 1)[1], "Line 1 .* '#1.2' or '#1.3', found '#1.4'"),
        (GCT13.replace("3\t2\t2\t2", "3\t2\t2"), "Line 2 .* 4 non-negative integers"),
        (
            GCT13.replace("3\t2\t2\t2", "4\t2\t2\t2"),
            "truncated: line 2 announces 2 column-metadata and 4 data rows",
        ),
        (GCT13.replace("3\t2\t2\t2", "2\t2\t2\t2"), "Line 8 .* past the 2 data rows"),
        (GCT13.replace("3\t2\t2\t2", "3\t3\t2\t2"), "Line 3 .* header.* 5 tab-separated fields.*implies 6"),
        (
            GCT13.replace("p2\tEGFR\tlm\t3\tNaN", "p2\tEGFR\tlm\t3"),
            "Line 7 .* 4 tab-separated fields.*implies 5",
        ),
        (
            GCT13.replace("p2\tEGFR\tlm\t3\tNaN", "p2\tEGFR\tlm\t3\thigh"),
            "Line 7 .* non-numeric value 'high'",
        ),
        (GCT13.replace("p3\t", "p1\t"), "row ids .* not unique: 'p1'"),
        ("", "Line 1"),
    ],
)
def test_read_gct_malformed(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        ds.read_gct(write(tmp_path / "bad.gct", text))


def test_gctx_round_trip(tmp_path):
    adata = ds.read_gct(write(tmp_path / "x.gct", GCT13))
    adata.obs["is_control"] = [False, True]
    adata.var["missing"] = ["a", np.nan, "c"]
    path = tmp_path / "x.gctx"
    ds.write_gctx(adata, path)
    assert "is_control" in adata.obs  # input unchanged
    with h5py.File(path, "r") as handle:
        assert handle["0/DATA/0/matrix"].shape == (2, 3)  # samples x genes, as CMap stores it
    back = ds.read_gctx(path)
    np.testing.assert_array_equal(back.X, adata.X)
    assert list(back.obs_names) == ["S1", "S2"]
    assert list(back.var_names) == ["p1", "p2", "p3"]
    assert back.obs.loc["S1", "pert_dose"] == 10
    assert np.isnan(back.obs.loc["S2", "pert_dose"])
    assert list(back.obs["pert_iname"]) == ["drugA", "DMSO"]
    assert list(back.obs["is_control"]) == [0, 1]
    assert back.var["missing"].isna().tolist() == [False, True, False]
    assert list(ds.read_gctx(path, var_names="symbol").var_names) == ["TP53", "EGFR", "TP53-1"]


def test_gctx_round_trip_real_plate(shared_data, tmp_path):
    plate = ds.read_gct(shared_data / "lincs" / "l1000_LJP005_A375_24H_level3.gct.gz")
    ds.write_gctx(plate, tmp_path / "plate.gctx")
    back = ds.read_gctx(tmp_path / "plate.gctx")
    np.testing.assert_array_equal(back.X, plate.X)
    pd.testing.assert_frame_equal(back.obs[plate.obs.columns], plate.obs, check_dtype=False)
    assert back.var["pr_gene_symbol"].equals(plate.var["pr_gene_symbol"])


def test_gctx_malformed(tmp_path):
    text = write(tmp_path / "x.gctx", GCT13)
    with pytest.raises(ValueError, match=r"not an HDF5 file.*read_gct"):
        ds.read_gctx(text)
    with h5py.File(tmp_path / "empty.gctx", "w") as handle:
        handle.create_group("0/META/COL")
    with pytest.raises(ValueError, match="no '/0/DATA/0/matrix'"):
        ds.read_gctx(tmp_path / "empty.gctx")
    adata = AnnData(np.ones((2, 3), dtype=np.float32))
    ds.write_gctx(adata, tmp_path / "ok.gctx")
    with h5py.File(tmp_path / "ok.gctx", "r+") as handle:
        del handle["0/DATA/0/matrix"]
        handle["0/DATA/0/matrix"] = np.ones((3, 2), dtype=np.float32)  # genes x samples: the wrong way round
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*samples x genes, i.e. \(2, 3\)"):
        ds.read_gctx(tmp_path / "ok.gctx")
    adata.obs["id"] = ["a", "b"]
    with pytest.raises(ValueError, match="column named 'id'"):
        ds.write_gctx(adata, tmp_path / "id.gctx")
