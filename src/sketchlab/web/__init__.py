"""The browser drawing studio: a FastAPI app serving one page and a JSON API over `sketchlab.sampling`.

`create_app(models)` builds the app from loaded models; `serve(paths)` loads model folders and runs it with uvicorn
(`sketchlab serve --model PATH`). FastAPI and uvicorn are imported only here, so the rest of sketchlab never needs them.
"""

from sketchlab.web.app import create_app
from sketchlab.web.registry import ModelRegistry
from sketchlab.web.server import parse_model_spec, serve

__all__ = ["ModelRegistry", "create_app", "parse_model_spec", "serve"]
