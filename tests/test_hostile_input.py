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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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
    for line in lines:
        fields = line.split("\t")
        if not line.strip():
            continue
        genes = [g.strip() for g in fields[2:] if g.strip()]
        expected[fields[0]] = list(dict.fromkeys(expected.get(fields[0], []) + genes))
    expected = {name: genes for name, genes in expected.items() if genes}
    path = _file("any.gmt", "\n".join(lines) + "\n")
    if not expected:
        _raises_clear(lambda: ds.read_gmt(path), "holds no gene set with genes")
        return
    net = ds.read_gmt(path)
    assert not net.duplicated().any()  # a gene listed twice in a set is kept once
    got = {name: group["target"].tolist() for name, group in net.groupby("source", sort=False)}
    assert got == expected
    _raises_clear(lambda: ds.read_gmt(path, min_size=99), "No gene set of the GMT file has 99")


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
    SeqPerturb.setup_anndata(treated, compound_id_key="pert_id", dose_key="dose")
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
