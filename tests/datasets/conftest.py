import warnings

import pytest

import sctl.datasets as ds


@pytest.fixture(scope="session")
def gdsc_expression(shared_data):
    """The kit's 27 MB expression table, read once per session."""
    return ds.read_expression(shared_data / "gdsc" / "gdsc_expression_z.csv.gz")


@pytest.fixture(scope="session")
def gdsc2_bulk(shared_data, gdsc_expression):
    """The real GDSC2 bulk AnnData built by `read_gdsc` from the kit, once per session."""
    gdsc = shared_data / "gdsc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ds.read_gdsc(
            gdsc_expression,
            ln_ic50=gdsc / "gdsc2_ln_ic50.csv.gz",
            auc=gdsc / "gdsc2_auc.csv.gz",
            cell_lines=gdsc / "cell_lines.csv.gz",
            drugs=gdsc / "drugs.csv.gz",
        )
