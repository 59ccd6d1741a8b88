"""The viewer's ASGI app: one JSON API under ``/api`` and the static page that uses it.

Explanations and corpus scans run in thread pools (torch and pyarrow release the GIL), so a
slow request never blocks the event loop or a fast request. Every file the app serves is named
at start-up: the page's own files (read into memory), the corpora given to ``textlrp serve``
(addressed by index or name) and the committed reports (an allow-list); no path from a request
reaches the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

import textlrp
from textlrp.errors import DataError, InputError, ModelError
from textlrp.web import service
from textlrp.web.corpus import Corpus
from textlrp.web.reports import ReportFiles, default_results_dir
from textlrp.web.service import Limits, ModelRegistry, TextTooLong

log = logging.getLogger("textlrp.web")

STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Options(BaseModel):
    """Method options (each goes only to the methods that take it)."""

    model_config = ConfigDict(extra="forbid")
    eps: float | None = None
    bias_factor: float | None = None
    product_rule: str | None = None
    steps: int | None = None
    integration: str | None = None
    mode: str | None = None


class MethodChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    options: Options = Options()


class ExplainRequest(BaseModel):
    """Body of ``POST /api/explain`` and ``POST /api/export/{format}``."""

    model_config = ConfigDict(extra="forbid")
    text: str
    model: str | None = None
    methods: list[str | MethodChoice] = Field(default_factory=lambda: ["lrp"])
    target: str | int = "predicted"
    options: Options = Options()
    dtype: Literal["float32", "float64"] = "float32"


def create_app(
    models: Mapping[str, torch.nn.Module] | None = None,
    corpora: Sequence[str | Path | Corpus] | Mapping[str, str | Path] = (),
    results_dir: Path | None | Literal["default"] = "default",
    limits: Limits | None = None,
    workers: int | None = None,
) -> FastAPI:
    """The viewer app for ``models`` (default: the bundled model) and corpus files."""
    limits = limits or Limits()
    registry = ModelRegistry(models or {"bundled": textlrp.load_model()})
    corpus_list = _open_corpora(corpora)
    reports = ReportFiles.scan(default_results_dir() if results_dir == "default" else results_dir)
    static = _read_static()
    workers = workers or max(2, min(8, os.cpu_count() or 2))
    explain_pool = ThreadPoolExecutor(workers, thread_name_prefix="textlrp-explain")
    corpus_pool = ThreadPoolExecutor(2, thread_name_prefix="textlrp-corpus")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        explain_pool.shutdown(wait=False, cancel_futures=True)
        corpus_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        lifespan=lifespan,
        title="textlrp viewer",
        version=textlrp.__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.registry = registry
    app.state.corpora = corpus_list
    app.state.limits = limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    async def in_pool(pool: ThreadPoolExecutor, function, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, partial(function, *args, **kwargs))

    # ----------------------------------------------------------------- errors
    @app.exception_handler(TextTooLong)
    async def _too_long(request: Request, exc: TextTooLong) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=413)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(ModelError)
    async def _model_error(request: Request, exc: ModelError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        messages = []
        for error in errors[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            messages.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        detail = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in errors[:20]]
        return JSONResponse(
            {"error": "invalid request: " + "; ".join(messages), "detail": detail},
            status_code=422,
        )

    # ----------------------------------------------------------------- page
    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(static["index.html"], media_type="text/html", headers=PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        if name not in STATIC_FILES:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(static[name], media_type=STATIC_FILES[name], headers=PAGE_HEADERS)

    @app.get("/reports/{key:path}", include_in_schema=False)
    async def report_file(key: str) -> Response:
        path = reports.files.get(key)
        if path is None:
            return JSONResponse({"error": f"no report file '{key}'"}, status_code=404)
        content = await in_pool(corpus_pool, path.read_bytes)
        return Response(
            content,
            media_type=reports.content_type(key),
            headers={"X-Content-Type-Options": "nosniff"},
        )

    # ----------------------------------------------------------------- API
    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        """Models, methods, corpora, reports, limits and the colour map of this server."""
        return {
            "version": textlrp.__version__,
            "models": registry.describe(),
            "default_model": registry.default,
            "methods": service.describe_methods(),
            "option_types": {k: v.__name__ for k, v in service.OPTION_TYPES.items()},
            "corpora": [c.describe(i) for i, c in enumerate(corpus_list)],
            "reports": reports.reports,
            "limits": {
                "max_chars": limits.max_chars,
                "max_tokens": limits.max_tokens,
                "max_methods": limits.max_methods,
                "max_steps": limits.max_steps,
                "max_body_bytes": limits.max_body_bytes,
            },
            "colors": service.colour_scale(),
        }

    def _explain(body: ExplainRequest):
        methods = service.parse_methods(
            [m if isinstance(m, str) else m.model_dump() for m in body.methods],
            body.options.model_dump(),
            limits,
        )
        explanations = service.explain_rows(
            registry, body.text, body.model, methods, body.target, body.dtype, limits
        )
        return body.model or registry.default, explanations

    @app.post("/api/explain")
    async def explain(body: ExplainRequest) -> dict[str, Any]:
        """Prediction and one heatmap row per method for one text."""
        check_length(body.text, limits)
        name, explanations = await in_pool(explain_pool, _explain, body)
        return await in_pool(explain_pool, service.response_record, name, explanations)

    @app.post("/api/export/{fmt}")
    async def export(fmt: Literal["png", "html"], body: ExplainRequest) -> Response:
        """The same explanation as a PNG image or a self-contained HTML page (a download)."""
        check_length(body.text, limits)
        _, explanations = await in_pool(explain_pool, _explain, body)
        content = await in_pool(explain_pool, _render, fmt, explanations)
        media = "image/png" if fmt == "png" else "text/html; charset=utf-8"
        return Response(
            content,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="textlrp-explanation.{fmt}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    def corpus_of(key: str) -> Corpus:
        if key.isdigit() and int(key) < len(corpus_list):
            return corpus_list[int(key)]
        for corpus in corpus_list:
            if corpus.name == key:
                return corpus
        names = ", ".join(f"{i} ({c.name})" for i, c in enumerate(corpus_list)) or "none"
        raise NotFound(f"no corpus '{key}'; this server has: {names}")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.get("/api/corpora")
    async def list_corpora() -> list[dict[str, Any]]:
        return [c.describe(i) for i, c in enumerate(corpus_list)]

    @app.get("/api/corpora/{corpus}/documents")
    async def documents(
        corpus: str,
        q: str = Query("", max_length=200),
        predicted: str | None = Query(None, max_length=200),
        label: str | None = Query(None, max_length=200),
        target: str | None = Query(None, max_length=200),
        misclassified: bool | None = None,
        method: str | None = Query(None, max_length=200),
        sort: str = "row",
        order: Literal["asc", "desc"] = "asc",
        word: str = Query("", max_length=200),
        page: int = Query(1, ge=1, le=10_000_000),
        page_size: int = Query(25, ge=1, le=200),
    ) -> dict[str, Any]:
        """One page of a corpus's rows, filtered and sorted on the server."""
        source = corpus_of(corpus)
        return await in_pool(
            corpus_pool,
            source.query,
            q=q,
            predicted=predicted,
            label=label,
            target=target,
            misclassified=misclassified,
            method=method,
            sort=sort,
            descending=order == "desc",
            word=word,
            page=page,
            page_size=page_size,
        )

    @app.get("/api/corpora/{corpus}/documents/{row}")
    async def document(corpus: str, row: int) -> dict[str, Any]:
        """One row in full and its document's other rows, each with heatmap colours."""
        source = corpus_of(corpus)
        result = await in_pool(corpus_pool, source.document, row)
        for record in result["records"]:
            record["heatmap"] = _stored_heatmap(record)
        return result

    @app.get("/api/corpora/{corpus}/aggregate")
    async def aggregate(
        corpus: str,
        method: str | None = Query(None, max_length=200),
        top: int = Query(15, ge=1, le=100),
        min_count: int = Query(3, ge=1),
    ) -> dict[str, Any]:
        """The words with the highest and lowest mean relevance per target class."""
        source = corpus_of(corpus)
        return await in_pool(corpus_pool, source.aggregate, method, top, min_count)

    return app


class NotFound(Exception):
    """An unknown corpus or document (HTTP 404)."""


def check_length(text: str, limits: Limits) -> None:
    """Refuse an over-long text before it takes a worker thread."""
    if len(text) > limits.max_chars:
        service.check_text(text, limits)


def _render(fmt: str, explanations) -> bytes:
    from textlrp.viz import render_html

    if fmt == "html":
        return render_html(explanations).encode("utf-8")
    from textlrp.viz import render_png

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "explanation.png"
        render_png(explanations, path)
        return path.read_bytes()


def _stored_heatmap(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return service.relevance_record(
            record.get("tokens") or [], record.get("relevance") or [], record.get("unknown")
        )
    except InputError as exc:
        return {"error": str(exc)}


def _open_corpora(
    corpora: Sequence[str | Path | Corpus] | Mapping[str, str | Path],
) -> list[Corpus]:
    items = corpora.items() if isinstance(corpora, Mapping) else [(None, c) for c in corpora]
    opened: list[Corpus] = []
    for name, item in items:
        corpus = item if isinstance(item, Corpus) else Corpus(item, name)
        taken = {c.name for c in opened}
        base, suffix = corpus.name, 2
        while corpus.name in taken:
            corpus.name = f"{base}-{suffix}"
            suffix += 1
        opened.append(corpus)
    return opened


def _read_static() -> dict[str, bytes]:
    folder = resources.files("textlrp.web") / "static"
    return {name: (folder / name).read_bytes() for name in ("index.html", *STATIC_FILES)}


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        body, more = b"", True
        messages = []
        while more:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
        replay = [{"type": "http.request", "body": body, "more_body": False}, *messages]

        async def replayed():
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, send) -> None:
        content = json.dumps(
            {"error": f"request body too large; the limit is {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
