"""The browser drawing studio: a FastAPI app serving one page and a JSON API over `sketchlab.sampling`.

`create_app(models)` builds the app from loaded models; `serve(paths)` loads model folders and runs it with uvicorn
(`sketchlab serve --model PATH`). FastAPI and uvicorn are imported only here, so the rest of sketchlab never needs them.
The names are imported on first use, so `serve` can say what it is doing before torch and the app are loaded.
"""

from __future__ import annotations

import importlib

_HOMES = {"create_app": "sketchlab.web.app", "ModelRegistry": "sketchlab.web.registry",
          "parse_model_spec": "sketchlab.web.server", "serve": "sketchlab.web.server"}

__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'sketchlab.web' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
