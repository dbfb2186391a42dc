import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("SKETCHLAB_DATA")
    candidate = Path(env) if env else REPO.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


# Tests (and the CLI they start) must find the shared data locally, never download it.
if shared_data_dir() is not None:
    os.environ.setdefault("SKETCHLAB_DATA", str(shared_data_dir()))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = shared_data_dir()
    if found is None:
        pytest.skip("real data not found: set SKETCHLAB_DATA to the shared data folder")
    return found


@pytest.fixture(scope="session")
def sheep_path(data_dir) -> Path:
    return data_dir / "sketchrnn" / "aaron_sheep.npz"
