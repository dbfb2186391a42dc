import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("SKETCHLAB_DATA")
    candidate = Path(env) if env else REPO.parent / "shared" / "data"
    return candidate.resolve() if candidate.is_dir() else None


# Tests (and the CLI they start) must find the shared data locally, never download it; absolute, because some
# tests serve it over HTTP from another working directory.
if shared_data_dir() is not None:
    os.environ["SKETCHLAB_DATA"] = str(shared_data_dir())


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = shared_data_dir()
    if found is None:
        pytest.skip("real data not found: set SKETCHLAB_DATA to the shared data folder")
    return found


@pytest.fixture(scope="session")
def sheep_path(data_dir) -> Path:
    return data_dir / "sketchrnn" / "aaron_sheep.npz"


SHAPES = ["circle", "line", "square", "triangle", "star"]


@pytest.fixture(scope="session")
def shape_splits(data_dir):
    """Real Quick, Draw! drawings of 5 shapes, 25 each: the first 20 to train on, the other 5 to test on."""
    import numpy as np

    from sketchlab.data.npz import StrokeSplits
    from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3

    train, test, train_labels, test_labels = [], [], [], []
    for label, name in enumerate(SHAPES):
        drawings = [simplified_to_stroke3(r["drawing"])
                    for r in read_ndjson(data_dir / "quickdraw" / "simplified" / f"{name}.ndjson")]
        train += drawings[:20]
        test += drawings[20:]
        train_labels += [label] * 20
        test_labels += [label] * (len(drawings) - 20)
    return StrokeSplits(train, [], test, np.array(train_labels), np.zeros(0, np.int64), np.array(test_labels),
                        list(SHAPES))


@pytest.fixture(scope="session")
def shape_classifier(shape_splits, tmp_path_factory):
    """A sketch classifier trained briefly (100 steps, seconds) on `shape_splits`, and its run folder."""
    import torch

    from sketchlab.evaluation import train_classifier
    from sketchlab.models.classifier import ClassifierConfig
    from sketchlab.training.engine import TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("classifier")
    model = train_classifier(shape_splits, ClassifierConfig(batch_size=32),
                             TrainConfig(out_dir=str(out), steps=100, seed=0, device="cpu", tensorboard=False,
                                         progress=False))
    torch.set_num_threads(threads)
    return model, out
