"""The published Magenta models in the studio's picker: listed, downloaded when chosen (with progress), then served.

- `GET  /api/catalog`         the published models: `{"models": [{"name": "magenta:bird", "draws", "cached",
                                "loaded"}]}` (cached: converted in `$SKETCHLAB_CACHE`, no download needed)
- `POST /api/catalog/{name}`  fetch one (download into the cache, conversion, loading) in a thread of its own; 202
- `GET  /api/catalog/{name}`  how that is going: `{"state": "downloading" | "loading" | "ready" | "failed",
                                "bytes", "total", "detail"}`; once ready the model is in `GET /api/models`

The download and conversion are `sketchlab.magenta.catalog.fetch_model`'s (the project's downloader: resumable,
verified, atomic); progress is the size of its partial file against the file's published length.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import urllib.request

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse

from sketchlab.errors import SketchlabError
from sketchlab.web.registry import ModelAbout, ModelRegistry

log = logging.getLogger("sketchlab")


@dataclasses.dataclass
class Fetch:
    """One published model on its way into the studio."""

    state: str = "downloading"
    bytes: int = 0
    total: int | None = None
    detail: str = ""


def _published_length(url: str) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length and length.isdigit() else None
    except (OSError, ValueError):
        return None


class Catalog:
    """The published models the studio can fetch into its registry."""

    def __init__(self, registry: ModelRegistry, device: str = "cpu") -> None:
        self.registry, self.device = registry, device
        self.fetches: dict[str, Fetch] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[dict]:
        from sketchlab.magenta import catalog

        loaded = {entry.name for entry in self.registry.entries()}
        return [{"name": f"{catalog.PREFIX}{e.name}", "draws": e.name.replace("_", " "), "cached": "gen" in e.cached,
                 "loaded": f"{catalog.PREFIX}{e.name}" in loaded} for e in catalog.catalog()]

    def start(self, name: str) -> Fetch:
        from sketchlab.magenta import catalog

        model, kind = catalog.parse_spec(name)  # an unknown name: a one-line error before any thread
        with self._lock:
            fetch = self.fetches.get(name)
            if fetch is None or fetch.state == "failed":
                fetch = self.fetches[name] = Fetch()
                threading.Thread(target=self._fetch, args=(name, model, kind, fetch), daemon=True,
                                 name=f"sketchlab-fetch-{model}").start()
        return fetch

    def progress(self, name: str) -> Fetch | None:
        from sketchlab.magenta import catalog

        fetch = self.fetches.get(name)
        if fetch is not None and fetch.state == "downloading":
            model, kind = catalog.parse_spec(name)
            download = catalog.models_dir() / "downloads" / f"{model}.{kind}.json"
            for path in (download.with_name(download.name + ".part"), download):
                if path.exists():
                    fetch.bytes = path.stat().st_size
        return fetch

    def _fetch(self, name: str, model: str, kind: str, fetch: Fetch) -> None:
        from sketchlab.magenta import catalog
        from sketchlab.pipelines.strokes import load_model

        try:
            fetch.total = _published_length(catalog.models_url(model, kind))
            folder = catalog.fetch_model(model, kind, progress=False)
            fetch.bytes, fetch.state = fetch.total or fetch.bytes, "loading"  # downloaded (or in the cache already)
            entry = self.registry.add(name, load_model(str(folder), device=self.device),
                                      ModelAbout("cache", model.replace("_", " ")))
            with entry.lock:
                entry.typical_extent()
            fetch.state = "ready"
        except SketchlabError as error:
            fetch.state, fetch.detail = "failed", str(error)
        except Exception as error:  # noqa: BLE001 - a thread of its own: the page hears that it failed
            log.exception("fetching %s failed", name)
            fetch.state, fetch.detail = "failed", f"could not fetch {name}: {error}"


def add_catalog_routes(app: FastAPI, catalog: Catalog) -> None:
    @app.get("/api/catalog", tags=["api"])
    async def published_models() -> dict:
        """The published Magenta models: which are in the cache already, which are loaded."""
        return {"models": catalog.entries()}

    @app.post("/api/catalog/{name}", tags=["api"], status_code=202)
    async def fetch_published_model(name: str) -> JSONResponse:
        """Download (into the cache), convert and load a published model; `GET` the same path for progress."""
        return JSONResponse(dataclasses.asdict(catalog.start(name)), status_code=202)

    @app.get("/api/catalog/{name}", tags=["api"])
    async def fetch_progress(name: str) -> dict:
        """How the fetch of a published model is going (bytes downloaded of total; then loading, ready, failed)."""
        fetch = catalog.progress(name)
        if fetch is None:
            raise HTTPException(404, f"{name!r} is not being fetched: POST /api/catalog/{name} starts it")
        return dataclasses.asdict(fetch)
