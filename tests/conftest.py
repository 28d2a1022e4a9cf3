import os
from pathlib import Path

import numpy as np
import pytest

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
