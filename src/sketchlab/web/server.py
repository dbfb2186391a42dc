"""Loading model folders (or zoo names) for the studio and serving it with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.web.app import create_app
from sketchlab.web.middleware import is_loopback

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


def load_models(model_paths: list[str], device: str = "cpu") -> dict[str, SketchRNN]:
    """Load `PATH` or `NAME=PATH` model folders (or zoo names), by name; two models of one name are refused.
    No paths: the zoo's Sketch-RNN models."""
    from sketchlab.pipelines import load_model
    from sketchlab.zoo import zoo_models

    model_paths = model_paths or [model.name for model in zoo_models() if model.card.get("kind") == "sketch-rnn"]
    if not model_paths:
        raise DataError("give at least one model folder (--model PATH)")
    models: dict[str, SketchRNN] = {}
    for spec in model_paths:
        name, path = parse_model_spec(spec)
        if name in models:
            raise DataError(f"two models are called {name!r}: name them with NAME=PATH")
        models[name] = load_model(path, device=device)
    return models


def serve(model_paths: list[str], host: str = "127.0.0.1", port: int = 8765, device: str = "cpu",
          log_level: str = "info") -> None:
    """Load the models and serve the studio until interrupted (uvicorn). Binds the loopback address by default."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise DataError(f"port must be in 0..65535, got {port}")
    local = is_loopback(host)
    app = create_app(load_models(model_paths, device), any_host=not local)
    if not local:
        log.warning("serving on %s: anyone who can reach this address can use the studio (no authentication)",
                    host)
    shown = f"[{host}]" if ":" in host else host
    log.info("sketchlab studio: http://%s:%d/  (API documentation: /docs)", shown, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
