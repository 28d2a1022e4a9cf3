import gzip

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl.datasets as ds
from sctl._validate import check_drug


def write(path, text):
    path.write_text(text)
    return path


# --- normalize_cell_line_name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("CAL-120", "CAL120"), ("Cal120", "CAL120"), ("NCI-H460", "NCIH460"), ("KM-H2", "KMH2"), ("T.T", "TT")],
)
def test_normalize_cell_line_name(name, expected):
    assert ds.normalize_cell_line_name(name) == expected


# --- read_gdsc_response ------------------------------------------------------------------------------------


def test_read_gdsc_response_real_gdsc2(shared_data):
    path = shared_data / "gdsc" / "gdsc2_ln_ic50.csv.gz"
    with pytest.warns(UserWarning, match=r"6288 \(cell line, drug\) pairs .* 9 drugs"):
        wide = ds.read_gdsc_response(path)
    assert wide.shape == (969, 286)
    assert wide.attrs["metric"] == "LN_IC50"
    long = pd.read_csv(path)
    pair = long[(long.CELL_LINE_NAME == "A375") & (long.DRUG_NAME == "Docetaxel")]
    assert len(pair) == 2
    assert wide.loc["A375", "Docetaxel"] == pytest.approx(pair.LN_IC50.mean())
    single = long[(long.CELL_LINE_NAME == "A375") & (long.DRUG_NAME == "Dabrafenib")]
    assert wide.loc["A375", "Dabrafenib"] == pytest.approx(single.LN_IC50.iloc[0])


def test_read_gdsc_response_real_gdsc1_auc(shared_data):
    with pytest.warns(UserWarning, match="24 drugs"):
        wide = ds.read_gdsc_response(shared_data / "gdsc" / "gdsc1_auc.csv.gz")
    assert wide.shape == (970, 378)
    assert wide.attrs["metric"] == "AUC"
    assert wide.stack().between(0, 1).all()


def test_read_gdsc_response_small(tmp_path):
    path = write(
        tmp_path / "r.tsv",
        "CELL_LINE_NAME\tDRUG_NAME\tLN_IC50\tAUC\nA\tx\t1.0\t0.5\nA\tx\t3.0\t0.7\nB\ty\t-1\t0.2\nB\tx\t\t0.1\n",
    )
    with pytest.warns(UserWarning, match=r"1 \(cell line, drug\) pairs occur more than once .*'x'"):
        wide = ds.read_gdsc_response(path, metric="ln_ic50")
    assert wide.loc["A", "x"] == 2.0
    assert np.isnan(wide.loc["A", "y"])
    assert np.isnan(wide.loc["B", "x"])  # empty value = untested
    with pytest.warns(UserWarning, match="averaged"):
        auc = ds.read_gdsc_response(path, metric="AUC")
    assert auc.loc["B", "x"] == pytest.approx(0.1)


def test_read_gdsc_response_errors(tmp_path):
    wrong = write(tmp_path / "wrong.csv", "cell,drug,LN_IC50\nA,x,1\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) 'CELL_LINE_NAME', 'DRUG_NAME'.*found: 'cell'"):
        ds.read_gdsc_response(wrong)
    assert ds.read_gdsc_response(wrong, cell_line_column="cell", drug_column="drug").shape == (1, 1)
    both = write(tmp_path / "both.csv", "CELL_LINE_NAME,DRUG_NAME,LN_IC50,AUC\nA,x,1,0.5\n")
    with pytest.raises(ValueError, match="both 'LN_IC50' and 'AUC'"):
        ds.read_gdsc_response(both)
    none = write(tmp_path / "none.csv", "CELL_LINE_NAME,DRUG_NAME,IC50\nA,x,1\n")
    with pytest.raises(ValueError, match="none of the response columns"):
        ds.read_gdsc_response(none)
    with pytest.raises(ValueError, match="no column 'Z_SCORE'"):
        ds.read_gdsc_response(none, metric="Z_SCORE")
    text = write(tmp_path / "text.csv", "CELL_LINE_NAME,DRUG_NAME,LN_IC50\nA,x,1\nB,x,high\n")
    with pytest.raises(ValueError, match="non-numeric values, first 'high' on data row 2"):
        ds.read_gdsc_response(text)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ds.read_gdsc_response(tmp_path / "missing.csv")


# --- read_expression ---------------------------------------------------------------------------------------


def test_read_expression_real(gdsc_expression):
    expr = gdsc_expression
    assert expr.shape == (975, 5778)  # 6163 genes minus 385 uninformative ones (data README)
    assert expr.X.dtype == np.float32
    assert "HLA-A" in expr.var_names
    assert "NKX3-1" in expr.var_names
    assert not any("." in gene for gene in expr.var_names if gene.startswith("HLA"))
    assert "CAL120" in expr.obs_names
    assert expr.uns["sctl_expression"]["n_uninformative_dropped"] == 385


def test_read_expression_small(tmp_path):
    path = tmp_path / "e.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(
            ",HLA.A,NKX3.1,CONST,FILL1,FILL2,TP53\nL1,1,2,5,0.1,0.1,3\nL2,2,1,5,0.3,0.3,4\nL3,0,1,5,0.2,0.2,1\n"
        )
    expr = ds.read_expression(path)
    assert list(expr.var_names) == ["HLA-A", "NKX3-1", "TP53"]
    raw = ds.read_expression(path, fix_symbols=False, drop_constant=False)
    assert list(raw.var_names) == ["HLA.A", "NKX3.1", "CONST", "FILL1", "FILL2", "TP53"]
    np.testing.assert_allclose(raw[:, "TP53"].X.ravel(), [3, 4, 1])


def test_read_expression_errors(tmp_path):
    path = write(tmp_path / "bad.csv", ",G1,G2\nL1,1,a\nL2,2,b\n")
    with pytest.raises(ValueError, match=r"must be numeric.*'G2'"):
        ds.read_expression(path)
    dup = write(tmp_path / "dup.csv", ",G1\nL1,1\nL1,2\n")
    with pytest.raises(ValueError, match=r"more than once.*'L1'"):
        ds.read_expression(dup)


# --- annotations -------------------------------------------------------------------------------------------


def test_read_annotations_real(shared_data):
    lines = ds.read_cell_lines(shared_data / "gdsc" / "cell_lines.csv.gz")
    assert lines.shape == (1028, 18)
    assert lines.loc["CAL-120", "EXPRESSION_ID"] == "CAL120"
    assert str(lines["COSMIC_ID"].dtype) == "Int64"
    assert lines["COSMIC_ID"].notna().sum() == 1001
    drugs = ds.read_drugs(shared_data / "gdsc" / "drugs.csv.gz")
    assert drugs.shape == (542, 9)
    assert drugs["SMILES"].notna().sum() == 419
    assert drugs.loc["Dabrafenib", "TARGETS"] == "BRAF"


def test_read_annotations_errors(tmp_path):
    with pytest.raises(ValueError, match=r"lacks the column.*'CELL_LINE_NAME'"):
        ds.read_cell_lines(write(tmp_path / "c.csv", "NAME,TISSUE\nA,skin\n"))
    with pytest.raises(ValueError, match=r"more than once.*'x'"):
        ds.read_drugs(write(tmp_path / "d.csv", "DRUG_NAME,SMILES\nx,C\nx,CC\n"))


# --- read_gdsc ---------------------------------------------------------------------------------------------


def test_read_gdsc_real(gdsc2_bulk):
    bulk = gdsc2_bulk
    matching = bulk.uns["sctl_matching"]
    assert matching["n_matched"] == 919  # GDSC2 lines with unambiguous expression (data README)
    assert matching["n_response_lines"] == 969
    assert sorted(matching["ambiguous_expression_ids"]) == ["KMH2", "TT"]
    assert len(matching["response_without_expression"]) == 50
    assert bulk.n_obs == 975 - 2
    assert bulk.X.dtype == np.float32
    assert "CAL-120" in bulk.obs_names
    assert bulk.obs.loc["CAL-120", "expression_id"] == "CAL120"
    assert {"tissue", "tissue_subtype", "cosmic_id", "tcga_type"} <= set(bulk.obs.columns)
    assert bulk.obs.loc["A375", "tissue_subtype"] == "melanoma"
    # the rows are joined to the right lines: MLANA z is about +2.1 in melanoma, -0.6 elsewhere (data README)
    mlana = pd.Series(bulk[:, "MLANA"].X.ravel(), index=bulk.obs_names)
    melanoma = (bulk.obs["tissue_subtype"] == "melanoma").to_numpy()
    assert mlana[melanoma].mean() > 1.5
    assert mlana[~melanoma].mean() < 0
    for key in ("ln_ic50", "auc"):
        table = bulk.obsm[key]
        assert isinstance(table, pd.DataFrame)
        assert table.shape == (bulk.n_obs, 286)
        assert table.index.equals(bulk.obs_names)
    assert bulk.obsm["ln_ic50"].notna().any(axis=1).sum() == 919
    drugs = bulk.uns["sctl_drugs"]
    assert {"smiles", "targets", "pathway"} <= set(drugs.columns)
    assert drugs.loc["Dabrafenib", "targets"] == "BRAF"
    assert drugs["smiles"].notna().sum() == 229  # GDSC2 drugs with SMILES (data README)
    assert check_drug(bulk, "Dabrafenib").notna().sum() > 900


def small_expression():
    return AnnData(
        np.arange(12, dtype=np.float32).reshape(4, 3),
        obs=pd.DataFrame(index=["CAL120", "KMH2", "A375", "EXTRA"]),
        var=pd.DataFrame(index=["G1", "G2", "G3"]),
    )


def test_read_gdsc_normalised_matching_without_annotation():
    expr = small_expression()
    expr.obs["batch"] = ["a", "b", "c", "d"]
    before = expr.copy()
    ic50 = pd.DataFrame(
        {"d1": [1.0, 2.0, 3.0, 4.0, 5.0], "d2": [0.5, np.nan, 1.5, 2.5, 3.5]},
        index=["CAL-120", "KM-H2", "KMH-2", "A375", "NOEXPR"],
    )
    with pytest.warns(UserWarning, match=r"Matched 2 of 5 .* 1 ambiguous expression ids dropped \('KMH2'\)"):
        bulk = ds.read_gdsc(expr, ln_ic50=ic50)
    assert list(bulk.obs_names) == ["CAL-120", "A375", "EXTRA"]
    assert list(bulk.obs["expression_id"]) == ["CAL120", "A375", "EXTRA"]
    assert list(bulk.obs["batch"]) == ["a", "c", "d"]  # the caller's own obs columns are kept
    np.testing.assert_array_equal(bulk.X[0], expr.X[0])
    assert bulk.obsm["ln_ic50"].loc["CAL-120", "d1"] == 1.0
    assert bulk.obsm["ln_ic50"].loc["EXTRA"].isna().all()
    matching = bulk.uns["sctl_matching"]
    assert matching["response_without_expression"] == ["KM-H2", "KMH-2", "NOEXPR"]
    assert matching["expression_without_response"] == ["EXTRA"]
    assert "sctl_drugs" not in bulk.uns
    # the caller's objects are untouched
    assert list(expr.obs_names) == list(before.obs_names)
    assert next(iter(ic50.index)) == "CAL-120"


def test_read_gdsc_annotation_resolves_and_flags(tmp_path):
    annotation = pd.DataFrame(
        {
            "CELL_LINE_NAME": ["CAL-120", "KM-H2", "KMH-2", "A375"],
            "TISSUE": ["breast", "lymphoma", "urogenital", "skin"],
            "EXPRESSION_ID": ["CAL120", "KMH2", "KMH2", "A375"],
            "EXPRESSION_ID_AMBIGUOUS": [False, True, True, False],
        }
    )
    drugs = pd.DataFrame({"DRUG_NAME": ["d1"], "SMILES": ["CCO"], "TARGETS": ["X"], "PATHWAY": ["P"]})
    ic50 = pd.DataFrame({"d1": [1.0, 2.0]}, index=["CAL-120", "A375"])
    with pytest.warns(UserWarning, match="ambiguous"):
        bulk = ds.read_gdsc(small_expression(), ln_ic50=ic50, cell_lines=annotation, drugs=drugs)
    assert list(bulk.obs_names) == ["CAL-120", "A375", "EXTRA"]
    assert bulk.obs.loc["A375", "tissue"] == "skin"
    assert bulk.uns["sctl_drugs"].loc["d1", "smiles"] == "CCO"
    assert bulk.uns["sctl_matching"]["ambiguous_expression_ids"] == ["KMH2"]


def test_read_gdsc_rejects_long_dataframe():
    long = pd.DataFrame({"CELL_LINE_NAME": ["A375"], "DRUG_NAME": ["d1"], "LN_IC50": [1.0]})
    with pytest.raises(ValueError, match=r"must be numeric.*read_gdsc_response"):
        ds.read_gdsc(small_expression(), ln_ic50=long)
    with pytest.raises(TypeError, match="wide DataFrame"):
        ds.read_gdsc(small_expression(), ln_ic50=[1, 2])


def test_add_response_copies_and_matches_normalised():
    adata = AnnData(np.zeros((3, 2), dtype=np.float32), obs=pd.DataFrame(index=["CAL-120", "A375", "HT-29"]))
    response = pd.DataFrame({"d": [1.0, 2.0, 3.0]}, index=["CAL120", "A375", "UNKNOWN"])
    with pytest.warns(UserWarning, match=r"1 of the 3 cell lines .*'UNKNOWN'"):
        out = ds.add_response(adata, response, "ln_ic50")
    assert "ln_ic50" not in adata.obsm
    table = out.obsm["ln_ic50"]
    assert table.loc["CAL-120", "d"] == 1.0
    assert table.loc["A375", "d"] == 2.0
    assert np.isnan(table.loc["HT-29", "d"])
    with pytest.raises(TypeError, match="must be an AnnData"):
        ds.add_response(response, response, "ln_ic50")
