"""Pretrained models shipped inside the package, so drawing works on a fresh install, offline.

Each model is a folder here: `model.safetensors` + `config.json` (as every sketchlab model) and `card.json`, its
model card: what it was trained on, the exact command, steps, test-set losses, the data's license. `--model NAME`
on every command and `from_pretrained(NAME)` look names up here when no such path exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchlab.errors import CheckpointError

ZOO_DIR = Path(__file__).resolve().parent
CARD_FILE = "card.json"
MAGENTA_PREFIX = "magenta:"
BUILD_KEYS = {"inputs", "out", "valid_fraction", "test_fraction"}  # one `sketchlab data build` of a data recipe


@dataclass(frozen=True)
class ZooModel:
    name: str
    folder: Path
    card: dict[str, Any]

    @property
    def kind(self) -> str:
        return json.loads((self.folder / "config.json").read_text())["model"]


def _card(folder: Path) -> dict[str, Any]:
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"the zoo model {folder.name!r} has no readable {CARD_FILE} ({error})") from error
    if not isinstance(card, dict):
        raise CheckpointError(f"the zoo model {folder.name!r} has a {CARD_FILE} that is not an object")
    return card


def zoo_models() -> list[ZooModel]:
    """Every shipped model, by name."""
    return [ZooModel(folder.name, folder, _card(folder))
            for folder in sorted(ZOO_DIR.iterdir()) if (folder / CARD_FILE).is_file()]


def zoo_names() -> list[str]:
    return [model.name for model in zoo_models()]


def find(name: str) -> Path | None:
    """The folder of the shipped model `name`, or None when there is none of that name."""
    folder = ZOO_DIR / name
    return folder if name and "/" not in name and (folder / CARD_FILE).is_file() else None


def resolve_model_path(spec: str | Path) -> Path:
    """A `--model` value as a folder: an existing path, else a zoo name, else `magenta:NAME[.gen|.vae]` (a published
    Magenta model, downloaded and converted on first use); a clear error when it is none of these."""
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if str(spec).startswith(MAGENTA_PREFIX):
        from sketchlab.magenta.catalog import resolve

        return resolve(str(spec))
    folder = find(str(spec))
    if folder is not None:
        return folder
    names = ", ".join(zoo_names()) or "none shipped"
    raise CheckpointError(f"no model at {spec}: give a model folder or a zoo name ({names}; `sketchlab models list`)"
                          " or magenta:NAME (`sketchlab models list --magenta`)")


def recipe_builds(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The `sketchlab data build` runs that made a card's data (none when its data is a set name like aaron_sheep).

    Each is {"inputs": [paths under $SKETCHLAB_DATA], "out": path, "valid_fraction": f, "test_fraction": f}:
    data, not shell text, so a test can rebuild the very test split the card's figures were computed on.
    """
    builds = card.get("data_recipe") or []
    if not isinstance(builds, list) or not all(isinstance(b, dict) and BUILD_KEYS <= b.keys() for b in builds):
        raise CheckpointError(f"the zoo model {card.get('name')!r} has a data_recipe that is not a list of builds")
    return builds


def recipe_commands(card: dict[str, Any]) -> list[str]:
    """The card's data recipe as the shell commands that reproduce it."""
    def quoted(path: str) -> str:
        return f'"$SKETCHLAB_DATA/{path}"'

    return [" ".join(["sketchlab data build", *map(quoted, build["inputs"]), "--out", build["out"],
                      "--valid-fraction", str(build["valid_fraction"]), "--test-fraction", str(build["test_fraction"])])
            for build in recipe_builds(card)]


def rebuild_data(card: dict[str, Any], data_dir: Path, root: Path) -> Path:
    """Run the card's data recipe with outputs under `root`; the path that then stands for the card's `data`."""
    from sketchlab.data.quickdraw import build_npz

    for build in recipe_builds(card):
        build_npz([data_dir / path for path in build["inputs"]], root / build["out"],
                  valid_fraction=build["valid_fraction"], test_fraction=build["test_fraction"])
    return root / card["data"]
