import os

# one thread per test worker: pytest -n 2 on 2 cores; more threads only oversubscribe (OpenMP, BLAS, torch)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)

# the real-data kit that sits beside the repository (``../shared/data``); SCTL_SHARED_DATA overrides it
SHARED_DATA = Path(os.environ.get("SCTL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real-data kit; tests that read it are skipped where it is absent."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real-data kit not found at {SHARED_DATA} (set SCTL_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def one_torch_thread():
    """Two shared cores: torch's second thread only spins; one thread is much faster for the small CSG²A tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
