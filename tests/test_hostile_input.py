"""Hostile input: broken files for every reader, hostile AnnData through the main verbs, and determinism.

Property-based (hypothesis) where the input space is large: every truncation of a GCT file, any column layout of
a GDSC table, any GMT line mix, any cells set to zero. Each reader and verb must either give the right answer or
raise a clear :class:`ValueError` (never an IndexError, a pandas parser error, a NaN written silently or a
silently shifted table).
"""

import atexit
import csv
import gzip
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import sparse

import sctl
import sctl.datasets as ds
from sctl.models import GRIP, ATSDPNet, PathwayTransfer, SeqPerturb, transfer_data

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
INT32_MAX = np.iinfo(np.int32).max
_TMP = Path(tempfile.mkdtemp(prefix="sctl_hostile_"))  # one folder for every example, removed at exit
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def _file(name: str, content: str | bytes) -> Path:
    path = _TMP / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _raises_clear(fn, *patterns: str) -> str:
    """``fn()`` raises a plain :class:`ValueError` (not a pandas / numpy subclass) matching one of ``patterns``."""
    with pytest.raises(ValueError, match="|".join(f"(?:{p})" for p in patterns)) as info:
        fn()
    assert type(info.value) is ValueError, f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


# ---------------------------------------------------------------------------------------------------- GCT
GCT = (
    "#1.3\n"
    "3\t2\t1\t2\n"
    "id\tsymbol\tS1\tS2\n"
    "pert_iname\tna\tdrugA\tDMSO\n"
    "pert_dose\tna\t10\t-666\n"
    "p1\tTP53\t1.5\t2.25\n"
    "p2\tEGFR\t3.125\t-4\n"
    "p3\tKRAS\t-1.75\t60.5\n"
)


def test_gct_intact_reads_exactly():
    adata = ds.read_gct(_file("ok.gct", GCT))
    np.testing.assert_array_equal(adata.X, [[1.5, 3.125, -1.75], [2.25, -4, 60.5]])
    assert list(adata.obs["pert_iname"]) == ["drugA", "DMSO"]


@FAST
@given(cut=st.integers(0, len(GCT) - 1))
def test_gct_cut_at_any_byte_is_a_clear_error(cut):
    """A GCT cut anywhere (even inside the last number) is refused, never read as a shorter table or value."""
    _raises_clear(lambda: ds.read_gct(_file("cut.gct", GCT[:cut])), "truncated", "Line [123]")


@FEW
@given(data=st.data())
def test_gct_gzipped_and_cut_is_a_clear_error(data):
    packed = gzip.compress(GCT.encode())
    cut = data.draw(st.integers(2, len(packed) - 1))
    _raises_clear(lambda: ds.read_gct(_file("cut.gct.gz", packed[:cut])), "truncated", "corrupted", "Line 1")


@FAST
@given(
    values=st.lists(
        st.lists(st.integers(-(2**20), 2**20).map(lambda v: v / 16), min_size=3, max_size=3), min_size=1, max_size=6
    )
)
def test_gct_any_well_formed_matrix_round_trips(values):
    rows = [f"g{i}\tsym{i}\t" + "\t".join(repr(v) for v in row) for i, row in enumerate(values)]
    text = f"#1.3\n{len(values)}\t3\t1\t0\nid\tsymbol\tA\tB\tC\n" + "\n".join(rows) + "\n"
    adata = ds.read_gct(_file("any.gct", text))
    np.testing.assert_array_equal(adata.X, np.array(values, dtype=np.float32).T)


# ---------------------------------------------------------------------------------------------------- GMT
NAMES = st.sampled_from(["SET_A", "SET_B", "SET_C"])
GENES = st.sampled_from(["TP53", "EGFR", "KRAS", "", " ", "TP53 "])
GMT_LINE = st.one_of(
    st.tuples(NAMES, st.sampled_from(["", "desc"]), st.lists(GENES, max_size=5)).map(
        lambda t: "\t".join([t[0], t[1], *t[2]]) if t[2] else f"{t[0]}\t{t[1]}\t"
    ),
    st.sampled_from(["", "\t", "\t\t\t", "   "]),  # blank lines and tabs only
)


@FAST
@given(lines=st.lists(GMT_LINE, max_size=8))
def test_gmt_empty_sets_duplicates_and_blank_lines(lines):
    expected: dict[str, list[str]] = {}
    clash = False  # a name coming back with other genes is refused
    for line in lines:
        fields = line.split("\t")
        if not line.strip():
            continue
        genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
        clash |= fields[0] in expected and set(expected[fields[0]]) != set(genes)
        expected.setdefault(fields[0], genes)
    expected = {name: genes for name, genes in expected.items() if genes}
    path = _file("any.gmt", "\n".join(lines) + "\n")
    if clash:
        _raises_clear(lambda: ds.read_gmt(path), r"is on line \d+ and again on line \d+ .* with other genes")
        return
    if not expected:
        _raises_clear(lambda: ds.read_gmt(path), "holds no gene set with genes")
        return
    net = ds.read_gmt(path)
    assert not net.duplicated().any()  # a gene listed twice in a set is kept once
    got = {name: group["target"].tolist() for name, group in net.groupby("source", sort=False)}
    assert got == expected
    _raises_clear(lambda: ds.read_gmt(path, min_size=99), "No gene set of the GMT file has 99")


def test_gmt_same_name_with_other_genes_is_refused():
    """Two lines named alike were merged silently into one set of both lists."""
    path = _file("twice.gmt", "SET_A\td\tTP53\tEGFR\nSET_B\td\tKRAS\nSET_A\td\tBRAF\tTP53\n")
    message = _raises_clear(lambda: ds.read_gmt(path), "'SET_A' is on line 1 and again on line 3")
    assert "'EGFR'" in message
    assert "'BRAF'" in message


def test_gct_infinite_value_names_line_and_column():
    for value in ("inf", "-Infinity", "1e39"):  # 1e39 would become inf in float32
        text = GCT.replace("p2\tEGFR\t3.125\t-4", f"p2\tEGFR\t3.125\t{value}")
        _raises_clear(lambda text=text: ds.read_gct(_file("inf.gct", text)), "Line 7 .* sample column 2 .*finite")
    text = GCT.replace("p2\tEGFR\t3.125\t-4", "p2\tEGFR\t3.125\tNaN")  # a missing value is allowed
    assert np.isnan(ds.read_gct(_file("nan.gct", text)).X[1, 1])


def test_gctx_infinite_value_names_sample_and_gene():
    adata = ds.read_gct(_file("ok.gct", GCT))
    adata.X[1, 2] = np.inf
    path = _TMP / "inf.gctx"
    ds.write_gctx(adata, path)
    _raises_clear(lambda: ds.read_gctx(path), "1 infinite values .* sample 'S2' .* gene 'p3'")


def test_gmt_binary_file_is_a_clear_error():
    _raises_clear(lambda: ds.read_gmt(_file("binary.gmt", b"\xff\xfe\x00S\td\tG")), "not UTF-8 text")


# ---------------------------------------------------------------------------------------------- GDSC CSVs
REQUIRED = ["CELL_LINE_NAME", "DRUG_NAME", "LN_IC50"]
OTHER_COLUMNS = ["cell", "drug", "ln_ic50_x", "TISSUE", "AUC", "DRUG_ID"]


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, quoting=csv.QUOTE_MINIMAL)


@FAST
@given(columns=st.lists(st.sampled_from(REQUIRED + OTHER_COLUMNS), min_size=1, max_size=5, unique=True))
def test_gdsc_response_any_columns(columns):
    frame = pd.DataFrame({c: ["A375", "A375", "HT-29"] if c != "LN_IC50" else [1.0, 2.0, 3.0] for c in columns})
    if "DRUG_NAME" in frame:
        frame["DRUG_NAME"] = ["Dabrafenib", "Trametinib", "Dabrafenib"]
    if "AUC" in frame:
        frame["AUC"] = [0.5, 0.6, 0.7]
    path = _file("response.csv", _csv(frame))
    metrics = [m for m in ("LN_IC50", "AUC") if m in columns]
    if {"CELL_LINE_NAME", "DRUG_NAME"} <= set(columns) and len(metrics) == 1:
        wide = ds.read_gdsc_response(path)
        assert wide.loc["A375", "Trametinib"] == frame[metrics[0]].iloc[1]
        assert np.isnan(wide.loc["HT-29", "Trametinib"])
    else:
        _raises_clear(lambda: ds.read_gdsc_response(path), "lacks the column", "none of the response", "both")


def test_gdsc_response_headers_are_case_insensitive():
    text = "cell_line_name,Drug_Name,ln_ic50\n01,Dabrafenib,1.5\nA375,Dabrafenib,-2\nA375,Trametinib,0.25\n"
    wide = ds.read_gdsc_response(_file("lower.csv", text))
    assert wide.loc["01", "Dabrafenib"] == 1.5
    assert wide.loc["A375", "Trametinib"] == 0.25
    assert wide.attrs["metric"] == "LN_IC50"
    text = "cell,drug,ln_ic50\nA375,Dabrafenib,1.5\n"  # names neither the expected nor the found headers wrongly
    message = _raises_clear(lambda: ds.read_gdsc_response(_file("other.csv", text)), "lacks the column")
    assert "'CELL_LINE_NAME'" in message
    assert "found: 'cell', 'drug', 'ln_ic50'" in message


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50\n", "no measurement"),
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50\nA,d,\n", "no measurement"),
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50\nA,d,high\n", "non-numeric"),
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50\nA,d,inf\nB,d,1\n", "infinite"),
        # pandas would shift line 2 silently: 'A' into the index, the drug name into CELL_LINE_NAME, ...
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50\nA,d,1,5\nB,d,2\n", "Line 2 .* has 4 fields .* header has 3"),
        ("CELL_LINE_NAME,DRUG_NAME,LN_IC50,LN_IC50\nA,d,1,2\n", "'LN_IC50' more than once"),
    ],
)
def test_gdsc_response_broken_tables(text, pattern):
    _raises_clear(lambda: ds.read_gdsc_response(_file("bad_response.csv", text)), pattern)


def test_gdsc_response_names_stay_text():
    """Numeric-looking names are not parsed as numbers: '01' and '1' stay two cell lines."""
    wide = ds.read_gdsc_response(_file("names.csv", "CELL_LINE_NAME,DRUG_NAME,LN_IC50\n01,5,1.0\n1,5,2.0\n"))
    assert sorted(wide.index) == ["01", "1"]
    assert list(wide.columns) == ["5"]


@pytest.mark.parametrize(
    ("reader", "text", "pattern"),
    [
        (ds.read_drugs, "", "is empty"),
        (ds.read_drugs, "NAME,SMILES\nx,C\n", "lacks the column.*'DRUG_NAME'"),
        (ds.read_drugs, "DRUG_NAME,SMILES\n", "header but no rows"),
        (ds.read_drugs, "DRUG_NAME,SMILES\n,C\nx,CC\n", "1 rows .* have no DRUG_NAME"),
        (ds.read_drugs, "DRUG_NAME,SMILES\nx,C,extra\ny,CC\n", "Line 2 .* has 3 fields .* header has 2"),
        (ds.read_cell_lines, "", "is empty"),
        (ds.read_cell_lines, "NAME,TISSUE\nA,skin\n", "lacks the column.*'CELL_LINE_NAME'"),
        (ds.read_cell_lines, "CELL_LINE_NAME,COSMIC_ID\nA,abc\n", "'COSMIC_ID' .* whole numbers .* 'abc'"),
        (ds.read_cell_lines, "CELL_LINE_NAME,COSMIC_ID\nA,1\nB,1.5\n", "data row 2 holds '1.5'"),
        (ds.read_cell_lines, "CELL_LINE_NAME,COSMIC_ID\n,1\nB,2\n", "have no CELL_LINE_NAME"),
        (ds.read_expression, "", "is empty"),
        (ds.read_expression, "id,G1,G2\n", "0 cell lines x 2 genes"),
        (ds.read_expression, "id\nA\nB\n", "2 cell lines x 0 genes"),
        (ds.read_expression, "id,G1,G2\nA,1,x\nB,2,3\n", "must be numeric .*'G2'"),
        (ds.read_expression, "id,G1,G1\nA,1,2\nB,2,3\n", "'G1' more than once"),  # pandas renames one 'G1.1'
        (ds.read_expression, "id,G1,G2\nA,1,2,3\nB,2,3\n", "Line 2 .* has 4 fields .* header has 3"),
        (ds.read_expression, "id,G1,G2\n,1,2\nB,2,3\n", "have no first column"),
        (ds.read_expression, "id,G1,G2\nA,1e39,2\nB,2,3\n", "beyond float32"),
        (ds.read_ppi, "", "is empty"),
        (ds.read_ppi, "source,target,combined_score\n", "no edge"),
        (ds.read_ppi, "a,b,c\n1,2,3\n", "lacks the column"),
        (ds.read_ppi, "source,target,combined_score\nA,B,high\n", "must be numeric"),
        (ds.read_ppi, "source,target,combined_score\nA,B,\nA,C,900\n", "missing or infinite"),
        (ds.read_ppi, "source,target,combined_score\nA,A,900\n", "no edge between two different genes"),
    ],
)
def test_annotation_expression_and_ppi_broken_tables(reader, text, pattern):
    _raises_clear(lambda: reader(_file("bad_table.csv", text)), pattern)


@FAST
@given(
    values=st.lists(
        st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, 3e39])), min_size=2, max_size=2),
        min_size=2,
        max_size=4,
    )
)
def test_expression_values_read_exactly_or_refused(values):
    frame = pd.DataFrame(values, columns=["G1", "G2"], index=[f"L{i}" for i in range(len(values))])
    path = _file("expression.csv", frame.to_csv())
    array = np.array(values, dtype=np.float64)
    if np.isinf(array).any() or (np.abs(np.nan_to_num(array)) > np.finfo(np.float32).max).any():
        _raises_clear(lambda: ds.read_expression(path, drop_constant=False), "infinite values or values beyond")
        return
    adata = ds.read_expression(path, drop_constant=False)
    np.testing.assert_array_equal(adata.X, pd.read_csv(path, index_col=0).to_numpy(np.float32))


@FAST
@given(
    edges=st.lists(
        st.tuples(st.sampled_from("ABCD"), st.sampled_from("ABCD"), st.floats(0, 1000, allow_nan=False)),
        min_size=1,
        max_size=8,
    )
)
def test_ppi_any_edge_list(edges):
    frame = pd.DataFrame(edges, columns=["source", "target", "combined_score"])
    path = _file("edges.csv", frame.to_csv(index=False))
    pairs = {}
    for a, b, w in edges:
        if a != b:
            key = (min(a, b), max(a, b))
            pairs[key] = max(pairs.get(key, -np.inf), w)
    if not pairs:
        _raises_clear(lambda: ds.read_ppi(path), "no edge between two different genes")
        return
    net = ds.read_ppi(path)
    assert (net["source"] < net["target"]).all()
    got = {(s, t): w for s, t, w in net.itertuples(index=False)}
    assert got.keys() == pairs.keys()
    np.testing.assert_allclose([got[k] for k in pairs], [float(repr(pairs[k])) for k in pairs])


# ------------------------------------------------------------------------------------------- hostile AnnData
GENES = [f"G{i}" for i in range(40)]


def _cells(X: np.ndarray, genes: list[str] = GENES) -> AnnData:
    return AnnData(X, obs=pd.DataFrame(index=[f"c{i}" for i in range(X.shape[0])]), var=pd.DataFrame(index=genes))


@pytest.fixture(scope="module")
def reference() -> AnnData:
    """Small bulk reference: 120 GDSC lines x the first 40 genes, named G0..G39 to match the synthetic cells."""
    bulk = sctl.datasets.gdsc()[:120, :40].copy()
    bulk.var_names = GENES
    bulk.obsm["ln_ic50"] = bulk.obsm["ln_ic50"][["Dabrafenib"]]
    return bulk


def _duplicated(adata: AnnData) -> AnnData:
    out = adata.copy()
    out.var_names = [GENES[0], *GENES[: adata.n_vars - 1]]
    return out


@pytest.mark.parametrize("verb", ["standardize", "align_genes", "predict_response", "score_states"])
def test_duplicate_var_names_say_make_unique(verb, reference):
    cells = _duplicated(_cells(np.random.default_rng(0).normal(size=(20, 40))))
    calls = {
        "standardize": lambda: sctl.pp.standardize(cells),
        "align_genes": lambda: sctl.pp.align_genes(reference, cells),
        "predict_response": lambda: sctl.tl.predict_response(cells, reference, "Dabrafenib", method="logreg"),
        "score_states": lambda: sctl.tl.score_states(cells, genesets={"s": GENES[:10]}, min_genes=1),
    }
    _raises_clear(calls[verb], r"not unique.*var_names_make_unique\(\)")


@FAST
@given(
    offsets=st.lists(st.integers(0, 500), min_size=12, max_size=12),
    dtype=st.sampled_from([np.int32, np.int64, np.uint32]),
)
def test_integers_near_the_limit_standardise_exactly(offsets, dtype):
    """Counts near the int32 limit: float32 (24-bit mantissa) would collapse them; the z-scores must be exact."""
    small = np.array(offsets, dtype=np.int64).reshape(6, 2)
    assume((np.ptp(small, axis=0) > 0).all())
    top = np.iinfo(dtype).max if dtype is not np.int64 else INT32_MAX
    adata = _cells((top - small).astype(dtype), GENES[:2])
    sctl.pp.standardize(adata)
    expected = (small - small.mean(0)) / small.std(0)
    np.testing.assert_allclose(adata.X, -expected, atol=1e-5)
    assert adata.X.dtype == np.float32


@FEW
@given(shift=st.integers(0, 1000), seed=st.integers(0, 100))
def test_predict_response_and_score_states_on_int32_near_max(shift, seed, reference):
    """Per-cell ranks ignore a constant: huge int32 counts give the scores of small ones. predict_response, which
    declares log-normalised input, refuses both as raw counts, saying how to normalise."""
    noise = np.random.default_rng(seed).integers(0, 1000, size=(30, 40))
    small, huge = _cells(noise.astype(np.float64)), _cells((noise + (INT32_MAX - 1000 - shift)).astype(np.int32))
    for adata in (small, huge):
        _raises_clear(
            lambda adata=adata: sctl.tl.predict_response(adata, reference, "Dabrafenib", method="logreg"),
            r"raw counts.*sc\.pp\.normalize_total.*sc\.pp\.log1p",
        )
        sctl.tl.score_states(adata, genesets={"a": GENES[:10], "b": GENES[10:20]}, effective=["a"], ineffective=["b"])
    np.testing.assert_allclose(huge.obsm["sctl_states"], small.obsm["sctl_states"], atol=1e-9)


def test_values_too_large_to_standardise_are_refused():
    _raises_clear(lambda: sctl.pp.standardize(_cells(np.array([[1e200, 1.0], [3e200, 2.0]]), GENES[:2])), "too large")
    big = _cells(np.array([[1e39, 1.0], [3e39, 2.0], [2e39, 0.0]]), GENES[:2])  # beyond float32, fine in float64
    sctl.pp.standardize(big)
    np.testing.assert_allclose(big.X[:, 0], [-1.2247449, 1.2247449, 0], atol=1e-6)


@FEW
@given(zero=st.sets(st.integers(0, 29), max_size=30))
def test_all_zero_cells_get_no_silent_intercept(zero, reference):
    """Standardising and scoring states keep all-zero cells finite; predict_response leaves them unscored (NaN)."""
    X = np.random.default_rng(1).gamma(2.0, 1.0, size=(30, 40))
    X[sorted(zero)] = 0.0
    cells = _cells(X)
    sctl.pp.standardize(standardized := cells.copy())
    assert np.isfinite(standardized.X).all()
    rows = sorted(zero)
    if 30 - len(zero) < 20:  # too few cells left to standardise the cell domain
        _raises_clear(lambda: sctl.tl.predict_response(cells, reference, "Dabrafenib", method="logreg"), "at least 20")
    else:  # all-zero cells are not scored: NaN, never the intercept
        sctl.tl.predict_response(cells, reference, "Dabrafenib", method="logreg")
        proba = cells.obs["sctl_response_proba"].to_numpy()
        assert np.isnan(proba[rows]).all()
        assert np.isfinite(np.delete(proba, rows)).all()
    sctl.tl.score_states(cells, genesets={"a": GENES[:10], "b": GENES[10:20]}, effective=["a"], ineffective=["b"])
    scores = cells.obsm["sctl_states"].to_numpy()
    assert np.isfinite(scores).all()
    assert np.isfinite(cells.obs["sctl_resistance_index"]).all()
    if len(zero) > 1:  # every all-zero cell gets one defined value (ties take their average rank)
        assert np.allclose(scores[rows], scores[rows[0]])


@pytest.mark.parametrize("method", ["ulm", "zscore", "mlm", "gsva"])
def test_all_zero_cells_refused_by_methods_that_cannot_score_them(method):
    X = np.random.default_rng(2).gamma(2.0, 1.0, size=(20, 40))
    X[[3, 7]] = 0.0
    cells = _cells(X)
    _raises_clear(
        lambda: sctl.tl.score_states(cells, method=method, genesets={"a": GENES[:10], "b": GENES[10:20]}),
        r"2 cells have the same value for every gene.*'c3', 'c7'.*method='ssgsea'",
    )
    assert "sctl_states" not in cells.obsm


def test_gsva_skips_genes_constant_across_cells():
    """decoupler's GSVA divides by a zero bandwidth on a constant gene (numba SystemError): such genes are dropped."""
    X = np.random.default_rng(3).gamma(2.0, 1.0, size=(20, 40))
    X[:, [0, 11]] = 0.0
    cells = _cells(X)
    for _ in range(2):  # failed from the second call on
        sctl.tl.score_states(
            cells, method="gsva", genesets={"a": GENES[:10], "b": GENES[10:20]}, effective=["a"], ineffective=["b"]
        )
        assert np.isfinite(cells.obsm["sctl_states"].to_numpy()).all()


# -------------------------------------------------------------------------------- categorical obs, unused levels
def _with_unused(series: pd.Series, extra: list[str]) -> pd.Series:
    values = series.astype("category")
    return values.cat.add_categories([e for e in extra if e not in values.cat.categories])


UNUSED = st.lists(st.sampled_from(["ghost", "unused", "zzz", "aaa"]), min_size=1, max_size=3, unique=True)


@FEW
@given(extra=UNUSED, seed=st.integers(0, 5))
def test_split_ignores_unused_levels(extra, seed, reference):
    bulk = reference.copy()
    bulk.obs["tissue"] = bulk.obs["tissue"].astype(str)
    sctl.pp.binarize_response(bulk, "Dabrafenib")
    hostile = bulk.copy()
    hostile.obs["sctl_label"] = _with_unused(hostile.obs["sctl_label"], extra)
    hostile.obs["tissue"] = _with_unused(hostile.obs["tissue"], extra)
    for scheme, kwargs in (("stratified", {"label_key": "sctl_label"}), ("tissue_blind", {})):
        sctl.pp.split(bulk, scheme, n_folds=3, seed=seed, **kwargs)
        sctl.pp.split(hostile, scheme, n_folds=3, seed=seed, **kwargs)
        assert hostile.uns["sctl_split"]["fold_sizes"] == bulk.uns["sctl_split"]["fold_sizes"]
        assert 0 not in hostile.uns["sctl_split"]["fold_sizes"]
    np.testing.assert_array_equal(hostile.obs["sctl_split"], bulk.obs["sctl_split"])
    pd.testing.assert_frame_equal(hostile.uns["sctl_split"]["pairs"], bulk.uns["sctl_split"]["pairs"])
    balanced = sctl.pp.balance(hostile, label_key="sctl_label", method="oversample")
    assert set(balanced.uns["sctl_balance"]["counts_after"]) == {"sensitive", "resistant"}


@pytest.fixture(scope="module")
def plate() -> AnnData:
    return sctl.datasets.lincs()[:, :20].copy()


@FEW
@given(extra=UNUSED)
def test_match_controls_ignores_unused_levels(extra, plate):
    clean, hostile = plate.copy(), plate.copy()
    for key in ("drug", "cell_line", "plate"):
        hostile.obs[key] = _with_unused(hostile.obs[key], extra)
    for adata in (clean, hostile):
        sctl.pp.match_controls(adata, control="DMSO", batch_key="plate")
    np.testing.assert_array_equal(hostile.layers["sctl_basal"], clean.layers["sctl_basal"])
    np.testing.assert_array_equal(hostile.obs["sctl_basal_n_controls"], clean.obs["sctl_basal_n_controls"])


def test_match_controls_refuses_missing_group(plate):
    hostile = plate.copy()
    hostile.obs["cell_line"] = hostile.obs["cell_line"].astype(object)
    hostile.obs.iloc[:3, hostile.obs.columns.get_loc("cell_line")] = np.nan
    _raises_clear(lambda: sctl.pp.match_controls(hostile, control="DMSO"), r"3 profiles have no value .*'cell_line'")


def test_perturbation_models_register_no_empty_class(plate):
    """An unused level would become a drug the model accepts without ever having seen it."""
    treated = plate.copy()
    sctl.pp.match_controls(treated, control="DMSO")
    sctl.pp.log_fold_change(treated)
    treated = treated[~treated.obs["is_control"].to_numpy()].copy()
    treated.obs["drug"] = _with_unused(treated.obs["drug"], ["ghost"])
    treated.obs["pert_id"] = _with_unused(treated.obs["pert_id"], ["ghost"])
    n_drugs = treated.obs["drug"].nunique()
    GRIP.setup_anndata(treated, dose_key="dose")
    assert "ghost" not in GRIP(treated, n_hidden=8, n_embed=4, n_disc_hidden=8).drugs
    SeqPerturb.setup_anndata(treated, drug_id_key="pert_id", dose_key="dose")
    categories = SeqPerturb(treated).categories
    assert "ghost" not in categories["drug"]
    assert "ghost" not in categories["pert_id"]
    assert len(categories["drug"]) == n_drugs


# --------------------------------------------------------------------------------------------- determinism
def test_split_same_seed_same_folds(reference):
    runs = []
    for seed in (4, 4, 5):
        bulk = reference.copy()
        sctl.pp.split(bulk, "mixed", n_folds=3, seed=seed)
        runs.append(bulk.uns["sctl_split"]["pairs"]["fold"].to_numpy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_evaluate_response_same_seed_same_scores(reference):
    runs = []
    for seed in (4, 4, 5):
        bulk = reference.copy()
        sctl.tl.evaluate_response(
            bulk, drug="Dabrafenib", methods=["decomposed_ridge", "logreg"], seeds=[seed], n_folds=3
        )
        runs.append(bulk.uns["sctl_evaluate_response"]["predictions"])
    pd.testing.assert_frame_equal(runs[0], runs[1])
    folds = [run.set_index(["method", "obs_name"])["fold"].sort_index() for run in (runs[0], runs[2])]
    assert not folds[0].equals(folds[1])  # another seed, other folds


@pytest.mark.parametrize("cls", [PathwayTransfer, ATSDPNet])
def test_transfer_model_same_seed_same_numbers(cls):
    bulk = sctl.datasets.gdsc()
    cells = sctl.datasets.tumor("Dabrafenib", n_cells=40, seed=0)
    bulk = bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["cell_lines"])]
    bulk = bulk[:60, bulk.var["landmark"].to_numpy()].copy()
    data = transfer_data(bulk, cells, "Dabrafenib")
    kwargs = {"n_latent": 8, "encoder_dims": (16,), "predictor_dims": (8,), "n_heads": 2}
    if cls is PathwayTransfer:
        kwargs = {"n_latent": 8, "n_hidden": 16, "pathway_decoder": False}

    def run(seed: int) -> np.ndarray:
        cls.setup_anndata(data, **({"cluster_key": False} if cls is ATSDPNet else {}))
        model = cls(data, seed=seed, **kwargs)
        model.train(max_epochs=2, seed=seed, enable_progress_bar=False)
        return model.predict(cells)

    first, again, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_legitimate_layouts_are_not_taken_for_ragged_rows():
    """A quoted separator is one field, and R's ``write.table`` header has no name for the row-name column."""
    text = io.StringIO()
    pd.DataFrame({"DRUG_NAME": ["x", "y"], "SYNONYMS": ["a, b", "c"]}).to_csv(text, index=False)
    drugs = ds.read_drugs(_file("quoted.csv", text.getvalue()))
    assert drugs.loc["x", "SYNONYMS"] == "a, b"
    expr = ds.read_expression(_file("r_style.tsv", "G1\tG2\nL1\t1\t2\nL2\t3\t5\n"), drop_constant=False)
    assert list(expr.obs_names) == ["L1", "L2"]
    np.testing.assert_array_equal(expr.X, [[1, 2], [3, 5]])


# ------------------------------------------------------------------------------------------- model loading
def test_loading_a_model_warns_nothing_about_few_cells(plate, tmp_path):
    """The placeholder a model is rebuilt on had one row per drug: scvi-tools warned 'fewer than 3 cells'."""
    treated = plate.copy()
    sctl.pp.match_controls(treated, control="DMSO")
    sctl.pp.log_fold_change(treated)
    treated = treated[~treated.obs["is_control"].to_numpy()].copy()
    GRIP.setup_anndata(treated, dose_key="dose")
    grip = GRIP(treated, n_hidden=8, n_embed=4, n_disc_hidden=8)
    SeqPerturb.setup_anndata(treated, drug_id_key="pert_id", dose_key="dose")
    seqperturb = SeqPerturb(treated)
    for model in (grip, seqperturb):
        model.train(max_epochs=1, enable_progress_bar=False)  # an untrained model is not saved
        path = tmp_path / type(model).__name__
        model.save(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = type(model).load(path)
        assert not [w for w in caught if "fewer than 3 cells" in str(w.message)]
        pd.testing.assert_frame_equal(loaded.predict(treated), model.predict(treated))


# --------------------------------------------------------------------------- NaN in the user's terms, backed files
def test_predict_perturbation_refuses_nan_in_the_basal_layer(plate):
    """A NaN basal value became a whole predicted row of NaN (GRIP predicts from the full basal profile)."""
    treated = _treated(plate)
    GRIP.setup_anndata(treated, dose_key="dose")
    grip = GRIP(treated, n_hidden=8, n_embed=4, n_disc_hidden=8)
    hostile = _with_nan(treated, "sctl_basal", row=2, column=4)
    hostile.layers["sctl_basal"][5, 4] = np.inf
    hostile.layers["sctl_basal"][5, 6] = np.nan
    before = hostile.copy()
    message = _raises_clear(
        lambda: sctl.tl.predict_perturbation(hostile, grip), r"`adata.layers\['sctl_basal'\]` \(the basal profiles\)"
    )
    assert "2 NaN and 1 infinite values, in 2 observation(s) and 2 gene(s)" in message
    assert f"observation {hostile.obs_names[2]!r}, gene {hostile.var_names[4]!r}" in message
    _assert_identical(before, hostile)
    sctl.tl.predict_perturbation(treated, grip)  # finite basal profiles: predicted, finite
    assert np.isfinite(treated.layers["sctl_predicted"]).all()


@pytest.mark.parametrize("side", ["cells", "reference"])
@pytest.mark.parametrize("standardize_rows", [True, False])
def test_nan_is_counted_and_named_as_the_user_gave_it(side, standardize_rows, reference):
    """One NaN was reported as 40 (spread by the per-profile z-score) and always blamed on `adata.X`."""
    cells = _cells(np.random.default_rng(4).gamma(2.0, 1.0, size=(30, 40)))
    if side == "cells":
        cells = _with_nan(cells, row=3, column=5)
    else:
        reference = _with_nan(reference, row=2, column=7)
    message = _raises_clear(
        lambda: sctl.tl.predict_response(
            cells, reference, "Dabrafenib", method="logreg", min_shared=10, standardize_rows=standardize_rows
        ),
        "contains 1 NaN and 0 infinite values, in 1 observation\\(s\\) and 1 gene\\(s\\)",
    )
    named, other = ("`query.X`", "`reference.X`") if side == "cells" else ("`reference.X`", "`query.X`")
    assert named in message
    assert other not in message
    where = ("c3", "G5") if side == "cells" else (reference.obs_names[2], "G7")
    assert f"observation {where[0]!r}, gene {where[1]!r}" in message


def test_zscore_rows_keeps_non_finite_values_in_place():
    from sctl._stream import zscore_rows

    X = np.array([[1.0, np.nan, 3.0, 5.0], [2.0, 4.0, np.inf, 6.0], [1.0, 2.0, 3.0, 4.0]])
    out = zscore_rows(X)
    np.testing.assert_array_equal(~np.isfinite(out), ~np.isfinite(X))
    assert np.isinf(out[1, 2])
    np.testing.assert_allclose(out[0, [0, 2, 3]], zscore_rows(X[[0]][:, [0, 2, 3]])[0], atol=1e-6)
    np.testing.assert_allclose(out[1, [0, 1, 3]], zscore_rows(X[[1]][:, [0, 1, 3]])[0], atol=1e-6)
    np.testing.assert_array_equal(out[2], zscore_rows(X[[2]])[0])


@pytest.mark.parametrize("to_matrix", [np.asarray, sparse.csr_matrix, sparse.csc_matrix])
def test_check_finite_counts_observations_and_genes(to_matrix):
    from sctl._validate import check_finite

    X = np.zeros((5, 4))
    X[3, 1], X[3, 2], X[1, 2] = np.nan, np.inf, -np.inf
    message = _raises_clear(lambda: check_finite(to_matrix(X), "`m`", first_row=100), "`m` contains 1 NaN")
    assert "1 NaN and 2 infinite values, in 2 observation(s) and 2 gene(s) (the first: row 101)" in message
    names = _raises_clear(lambda: check_finite(to_matrix(X), obs_names=list("abcde"), var_names=list("wxyz")), "NaN")
    assert "(the first: observation 'b', gene 'y')" in names


def test_predict_response_reads_backed_cells_and_reference(tmp_path):
    """A backed AnnData crashed in anndata (`.copy()` of a backed view) though the docs say backed input is read."""
    cells = sctl.datasets.tumor("Dabrafenib", n_cells=40, seed=0)
    bulk = sctl.datasets.gdsc()
    cells.write_h5ad(tmp_path / "cells.h5ad")
    bulk.write_h5ad(tmp_path / "bulk.h5ad")
    expected = cells.copy()
    sctl.tl.predict_response(expected, reference=bulk, drug="Dabrafenib", method="signature")
    backed = anndata.read_h5ad(tmp_path / "cells.h5ad", backed="r")
    sctl.tl.predict_response(backed, reference=sctl.datasets.gdsc(), drug="Dabrafenib", method="signature")
    assert backed.isbacked
    np.testing.assert_allclose(backed.obs["sctl_response_proba"], expected.obs["sctl_response_proba"], atol=1e-6)
    backed_bulk = anndata.read_h5ad(tmp_path / "bulk.h5ad", backed="r")
    result = sctl.tl.predict_response(cells, reference=backed_bulk, drug="Dabrafenib", method="signature", copy=True)
    np.testing.assert_allclose(result.obs["sctl_response_proba"], expected.obs["sctl_response_proba"], atol=1e-6)
    assert backed_bulk.isbacked


# --------------------------------------------------------------------- a failing call leaves its input unchanged
def _assert_identical(before: AnnData, after: AnnData) -> None:
    """``after`` holds what ``before`` held: X, layers, obs, var, obsm and uns keys."""
    for name, a, b in [("X", before.X, after.X)] + [
        (f"layers[{k!r}]", before.layers[k], after.layers.get(k)) for k in before.layers
    ]:
        assert b is not None, f"{name} was removed"
        a, b = (m.toarray() if sparse.issparse(m) else np.asarray(m) for m in (a, b))
        np.testing.assert_array_equal(a, b, err_msg=f"{name} changed")
    assert list(after.layers) == list(before.layers)
    pd.testing.assert_frame_equal(after.obs, before.obs)
    pd.testing.assert_frame_equal(after.var, before.var)
    assert list(after.obsm) == list(before.obsm)
    assert list(after.uns) == list(before.uns)


def _with_nan(adata: AnnData, layer: str | None = None, row: int = 0, column: int = 0) -> AnnData:
    out = adata.copy()
    X = np.array(out.X if layer is None else out.layers[layer], dtype=np.float32)
    X[row, column] = np.nan
    if layer is None:
        out.X = X
    else:
        out.layers[layer] = X
    return out


def _treated(plate: AnnData) -> AnnData:
    treated = plate.copy()
    sctl.pp.match_controls(treated, control="DMSO")
    sctl.pp.log_fold_change(treated)
    return treated[~treated.obs["is_control"].to_numpy()].copy()


def _failing_calls(reference: AnnData, plate: AnnData) -> dict:
    """name -> (the AnnData to watch, the call that must raise, the error type)."""
    rng = np.random.default_rng(0)
    cells = _cells(rng.gamma(2.0, 1.0, size=(30, 40)))
    nan_cells, nan_reference = _with_nan(cells, row=3, column=5), _with_nan(reference, row=2, column=7)
    treated = _treated(plate)
    nan_basal = _with_nan(treated, "sctl_basal")
    GRIP.setup_anndata(grip_data := treated.copy(), dose_key="dose")
    grip = GRIP(grip_data, n_hidden=8, n_embed=4, n_disc_hidden=8)
    zero = cells.copy()
    zero.X[[3, 7]] = 0.0
    transfer = transfer_data(reference, cells, "Dabrafenib", min_shared=10)
    nan_transfer, nan_transfer_atsdp = _with_nan(transfer, row=1, column=1), _with_nan(transfer, row=1, column=1)
    no_clusters = transfer.copy()
    smiles = treated.copy()
    smiles.obs["smiles"] = "CC"
    smiles.obs["batch"] = smiles.obs["drug"].astype(object).where(np.arange(smiles.n_obs) > 0)  # one missing
    one_class = reference.copy()
    one_class.obs["sctl_label"] = "sensitive"
    gct_id = plate[:4, :5].copy()
    gct_id.obs["id"] = "x"
    predict, evaluate = sctl.tl.predict_response, sctl.tl.evaluate_response
    return {
        "standardize_nan": (nan_cells, lambda: sctl.pp.standardize(nan_cells), ValueError),
        "standardize_clip": (cells, lambda: sctl.pp.standardize(cells, clip=-1), ValueError),
        "align_no_overlap": (
            cells,
            lambda: sctl.pp.align_genes(_cells(np.ones((2, 2)), ["A", "B"]), cells),
            ValueError,
        ),
        "predict_response_nan_cells": (
            nan_cells,
            lambda: predict(nan_cells, reference, "Dabrafenib", method="logreg", min_shared=10),
            ValueError,
        ),
        "predict_response_nan_reference": (
            nan_reference,
            lambda: predict(cells, nan_reference, "Dabrafenib", method="logreg", min_shared=10),
            ValueError,
        ),
        "predict_response_threshold": (cells, lambda: predict(cells, reference, "Dabrafenib", threshold=2), ValueError),
        "screen_drugs_nan_cells": (
            nan_cells,
            lambda: sctl.tl.screen_drugs(nan_cells, reference, min_shared=10),
            ValueError,
        ),
        "screen_drugs_unknown_drug": (
            cells,
            lambda: sctl.tl.screen_drugs(cells, reference, ["Dabrafenip"], min_shared=10),
            KeyError,  # as predict_response's unknown drug
        ),
        "screen_drugs_missing_groupby": (
            cells,
            lambda: sctl.tl.screen_drugs(cells, reference, groupby="leiden", min_shared=10),
            KeyError,
        ),
        "predict_response_unknown_drug": (
            reference,
            lambda: predict(cells, reference, "Nodrug", method="logreg", min_shared=10),
            KeyError,
        ),
        "predict_perturbation_nan_basal": (
            nan_basal,
            lambda: sctl.tl.predict_perturbation(nan_basal, grip),
            ValueError,
        ),
        "score_states_zero_cells": (
            zero,
            lambda: sctl.tl.score_states(zero, method="ulm", genesets={"a": GENES[:10]}, min_genes=1),
            ValueError,
        ),
        "map_to_reference_nan": (
            nan_cells,
            lambda: sctl.tl.map_to_reference(nan_cells, reference, min_shared=10),
            ValueError,
        ),
        "qc_nan": (nan_cells, lambda: sctl.pp.qc(nan_cells), ValueError),
        "score_states_nan": (
            nan_cells,
            lambda: sctl.tl.score_states(nan_cells, genesets={"a": GENES[:10]}, min_genes=1),
            ValueError,
        ),
        "harmonize_nan": (nan_cells, lambda: sctl.pp.harmonize(reference, nan_cells, min_shared=10), ValueError),
        "predict_response_unknown_method": (
            cells,
            lambda: predict(cells, reference, "Dabrafenib", method="nonsense", min_shared=10),
            ValueError,
        ),
        "evaluate_response_nan_reference": (
            nan_reference,
            lambda: evaluate(nan_reference, drug="Dabrafenib", methods=["decomposed_ridge"], seeds=[0], n_folds=3),
            ValueError,
        ),
        "evaluate_response_unknown_method": (
            reference,
            lambda: evaluate(reference, drug="Dabrafenib", methods=["decomposed_ridge", "nonsense"]),
            ValueError,
        ),
        "evaluate_response_ensemble_without_cells": (
            reference,
            lambda: evaluate(reference, drug="Dabrafenib", methods=["ensemble"]),
            ValueError,
        ),
        "binarize_bad_k": (reference, lambda: sctl.pp.binarize_response(reference, "Dabrafenib", k=3), ValueError),
        "split_too_many_folds": (reference, lambda: sctl.pp.split(reference, n_folds=1000), ValueError),
        "match_controls_unknown_group": (
            plate,
            lambda: sctl.pp.match_controls(plate, control="DMSO", group_keys=("nokey",)),
            KeyError,
        ),
        "log_fold_change_unknown_kind": (
            nan_basal,
            lambda: sctl.pp.log_fold_change(nan_basal, kind="nonsense"),
            ValueError,
        ),
        "binarize_unknown_drug": (reference, lambda: sctl.pp.binarize_response(reference, "Nodrug"), KeyError),
        "split_unknown_scheme": (reference, lambda: sctl.pp.split(reference, "nonsense"), ValueError),
        "balance_one_class": (one_class, lambda: sctl.pp.balance(one_class), ValueError),
        "match_controls_no_control": (plate, lambda: sctl.pp.match_controls(plate, control="Nodrug"), ValueError),
        "log_fold_change_nan_basal": (nan_basal, lambda: sctl.pp.log_fold_change(nan_basal), ValueError),
        "grip_setup_missing_key": (treated, lambda: GRIP.setup_anndata(treated, drug_key="nokey"), KeyError),
        "seqperturb_setup_missing_key": (
            treated,
            lambda: SeqPerturb.setup_anndata(treated, drug_key="nokey"),
            KeyError,
        ),
        "seqperturb_setup_smiles_then_missing": (
            smiles,
            lambda: SeqPerturb.setup_anndata(smiles, smiles_key="smiles", extra_keys=["batch"]),
            ValueError,
        ),
        "pathway_transfer_setup_nan": (nan_transfer, lambda: PathwayTransfer.setup_anndata(nan_transfer), ValueError),
        "atsdp_setup_nan": (
            nan_transfer_atsdp,
            lambda: ATSDPNet.setup_anndata(nan_transfer_atsdp, cluster_key=False),
            ValueError,
        ),
        "atsdp_setup_missing_clusters": (
            no_clusters,
            lambda: ATSDPNet.setup_anndata(no_clusters, cluster_key="nokey"),
            KeyError,
        ),
        "write_gctx_id_column": (gct_id, lambda: ds.write_gctx(gct_id, _TMP / "id.gctx"), ValueError),
    }


FAILING = [
    "standardize_nan",
    "standardize_clip",
    "align_no_overlap",
    "predict_response_nan_cells",
    "predict_response_nan_reference",
    "predict_response_threshold",
    "predict_response_unknown_drug",
    "screen_drugs_nan_cells",
    "screen_drugs_unknown_drug",
    "screen_drugs_missing_groupby",
    "predict_perturbation_nan_basal",
    "score_states_zero_cells",
    "qc_nan",
    "score_states_nan",
    "harmonize_nan",
    "predict_response_unknown_method",
    "evaluate_response_nan_reference",
    "evaluate_response_unknown_method",
    "evaluate_response_ensemble_without_cells",
    "binarize_bad_k",
    "split_too_many_folds",
    "match_controls_unknown_group",
    "log_fold_change_unknown_kind",
    "map_to_reference_nan",
    "binarize_unknown_drug",
    "split_unknown_scheme",
    "balance_one_class",
    "match_controls_no_control",
    "log_fold_change_nan_basal",
    "grip_setup_missing_key",
    "seqperturb_setup_missing_key",
    "pathway_transfer_setup_nan",
    "atsdp_setup_nan",
    "atsdp_setup_missing_clusters",
    "seqperturb_setup_smiles_then_missing",
    "write_gctx_id_column",
]


@pytest.fixture(scope="module")
def failing_calls(reference, plate) -> dict:
    return _failing_calls(reference, plate)


@pytest.mark.parametrize("name", FAILING)
def test_failing_call_leaves_input_unchanged(name, failing_calls):
    adata, call, error = failing_calls[name]
    before = adata.copy()
    with pytest.raises(error):
        call()
    _assert_identical(before, adata)
