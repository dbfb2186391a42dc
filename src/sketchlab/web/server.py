"""Loading model folders (or zoo names) for the studio and serving it with uvicorn."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sketchlab.errors import DataError

if TYPE_CHECKING:  # torch and the app are imported when serving starts, after the first line is printed
    from sketchlab.models.sketch_rnn import SketchRNN
    from sketchlab.web.registry import ModelAbout, ModelRegistry

log = logging.getLogger("sketchlab")


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`NAME=PATH` or `PATH` (named after its folder; a run's `best/` or `last/` after the run folder)."""
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise DataError(f"bad --model {spec!r}: use PATH or NAME=PATH")
        return name, path
    folder = Path(spec).expanduser().resolve()
    name = folder.parent.name if folder.name in ("best", "last") else folder.name
    return name or "model", spec


DEFAULT_ZOO_MODEL = "sheep"  # the first-run default: it draws recognisable things (doodle draws sprays of dashes)


def studio_zoo_models() -> list[str]:
    """The zoo's Sketch-RNN models, the default first."""
    from sketchlab.zoo import zoo_models

    names = [model.name for model in zoo_models() if model.card.get("kind") == "sketch-rnn"]
    return sorted(names, key=lambda name: name != DEFAULT_ZOO_MODEL)


def model_about(path: str) -> ModelAbout:
    """What the picker says of the model at `path`: shipped (a zoo name), in the cache (magenta:NAME) or yours;
    what it draws comes from its card, when it has one."""
    from sketchlab.web.registry import ModelAbout
    from sketchlab.zoo import CARD_FILE, find

    if path.startswith("magenta:"):
        return ModelAbout("cache", path.split(":", 1)[1].split(".")[0])
    shipped = None if Path(path).exists() else find(path)
    card = (shipped or Path(path)) / CARD_FILE
    try:
        draws = str(json.loads(card.read_text()).get("draws", ""))
    except (OSError, ValueError, AttributeError):
        draws = ""
    return ModelAbout("shipped" if shipped else "yours", draws)


def load_models(model_paths: list[str], device: str = "cpu",
                say: Callable[[str], None] = lambda line: None) -> dict[str, SketchRNN]:
    """Load `PATH` or `NAME=PATH` model folders (or zoo names), by name; two models of one name are refused.
    No paths: the zoo's Sketch-RNN models. `say` hears a line as each model is loaded."""
    from sketchlab.pipelines.strokes import load_model

    specs = [parse_model_spec(spec) for spec in model_paths or studio_zoo_models()]
    if not specs:
        raise DataError("give at least one model folder (--model PATH)")
    models: dict[str, SketchRNN] = {}
    for name, path in specs:
        if name in models:
            raise DataError(f"two models are called {name!r}: name them with NAME=PATH")
        started = time.perf_counter()
        models[name] = load_model(path, device=device)
        say(f"  {name}: loaded in {time.perf_counter() - started:.1f} s")
    return models


def load_registry(model_paths: list[str], device: str = "cpu",
                  say: Callable[[str], None] = lambda line: None) -> ModelRegistry:
    """The studio's models, loaded and measured (each model's scale is measured once, here rather than on the first
    request, so that the first completion is as quick as the others)."""
    from sketchlab.web.registry import ModelRegistry

    models = load_models(model_paths, device, say)
    paths = dict(parse_model_spec(spec) for spec in model_paths or studio_zoo_models())
    registry = ModelRegistry(models, {name: model_about(path) for name, path in paths.items()})
    started = time.perf_counter()
    for entry in registry.entries():
        entry.model.eval()
        with entry.lock:
            entry.typical_extent()
    say(f"  scale of each model's drawings measured in {time.perf_counter() - started:.1f} s")
    return registry


def serve(model_paths: list[str], host: str = "127.0.0.1", port: int = 8765, device: str = "cpu",
          log_level: str = "info") -> None:
    """Load the models and serve the studio until interrupted (uvicorn). Binds the loopback address by default.
    Says what it is doing while the models load (that takes seconds), then the address."""
    if not 0 <= port <= 65535:
        raise DataError(f"port must be in 0..65535, got {port}")
    say = log.info
    say(f"sketchlab studio: loading {', '.join(model_paths) or 'the shipped models'} on {device}...")
    started = time.perf_counter()
    import uvicorn

    from sketchlab.web.app import create_app
    from sketchlab.web.middleware import is_loopback

    local = is_loopback(host)
    app = create_app(load_registry(model_paths, device, say), any_host=not local)
    if not local:
        log.warning("serving on %s: anyone who can reach this address can use the studio (no authentication)",
                    host)
    shown = f"[{host}]" if ":" in host else host
    say(f"sketchlab studio: ready in {time.perf_counter() - started:.1f} s at http://{shown}:{port}/  "
        f"(API documentation: /docs)")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
