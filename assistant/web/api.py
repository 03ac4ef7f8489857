"""The HTTP API: a thin, typed layer over :class:`~assistant.core.Assistant`.

Endpoints (all JSON unless said otherwise; errors are ``{"error": {"code", "message"}}``)::

    POST /api/chat            {"question", "history": [...], "filters": {...}} → Answer
    POST /api/chat/stream     same body → text/event-stream: meta, delta…, citations, done | error
    GET  /api/search?q=&k=    ranked sections
    GET  /api/documents       the indexed replies
    GET  /api/documents/{id}  one reply with its sections in order (404 when unknown)
    GET  /healthz             the process is alive
    GET  /readyz              200 with the readiness dict when ready, 503 otherwise
    GET  /api/docs            this list, from the OpenAPI document, as a page that works offline

The API is stateless: the client sends the conversation history with each question. Request
limits (question length, history size) come from ``Settings`` and are part of the request
models, so they are validated before the assistant runs and documented in the OpenAPI schema;
``security.install`` renders validation errors as a 422 that states the limit.

This module deliberately does not use ``from __future__ import annotations``: the request models
are built per ``Settings`` inside :func:`request_models`, and FastAPI must see the real classes
(not strings it cannot resolve) in the endpoint signatures.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePath
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from assistant.core import Assistant, QuestionError, ServiceUnavailable
from assistant.schema import Answer, Citation
from assistant.settings import Settings
from assistant.web.security import GENERIC_ERROR, content_security_policy, error_response, sha256_source

log = logging.getLogger(__name__)

#: Seconds of silence after which the event stream sends a comment line, so that proxies and
#: browsers do not drop a connection while a slow model is still thinking.
HEARTBEAT_SECONDS = 15.0

#: How many answers run at once. The work is CPU-bound (embedding, BM25, fusion) on a small
#: machine: past a few concurrent calls threads only fight over the cores and the GIL, so extra
#: requests wait their turn here (on the event loop, costing nothing) rather than in threads.
MAX_CONCURRENT_ANSWERS = 2

#: A history message may quote a long earlier answer; it is bounded at this many questions' length.
HISTORY_MESSAGE_FACTOR = 4

MAX_FILTER_DOCS = 50


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable reason, e.g. question_too_long, rate_limited")
    message: str = Field(description="a polite sentence in Chinese, then English")
    limit: int | None = Field(None, description="the limit that was exceeded, when there is one")


class ErrorResponse(BaseModel):
    error: ErrorBody

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "code": "question_too_long",
        "message": "问题太长了：最多 1000 个字符，请精简后再问。/ The question is too long: at most 1000 characters.",
        "limit": 1000}}]})


class ChatFilters(BaseModel):
    """Restricts retrieval; both fields are optional."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=MAX_FILTER_DOCS, description="only these documents (ids from /api/documents)")
    suggestion_no: str | None = Field(None, max_length=50, description="e.g. 第616号")


class SearchResponse(BaseModel):
    query: str
    results: list[Citation] = Field(description="sections in rank order, best first; marker = rank")


class DocumentSummary(BaseModel):
    doc_id: str
    title: str = ""
    suggestion_no: str = ""
    session: str = ""
    proposer: str = ""
    units: str = ""
    chunks: int = 0
    source: str = Field("", description="the file name or URL the document was read from")


class DocumentSection(BaseModel):
    chunk_id: str
    section: str = Field("", description="section path such as 一、(二) 二是; empty for the document card")
    kind: str = "section"
    text: str
    start: int = 0
    end: int = 0


class DocumentDetail(DocumentSummary):
    sections: list[DocumentSection]


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool] = Field(default_factory=dict)
    documents: int = 0
    chunks: int = 0
    message: str = ""


CHAT_EXAMPLES: dict[str, dict[str, Any]] = {
    "zh": {"summary": "中文提问", "value": {"question": "惠水的土地政策有哪些？", "history": []}},
    "en": {"summary": "English question", "value": {"question": "What measures address land for Huishui?"}},
    "follow_up": {
        "summary": "追问（带对话历史）/ follow-up with history",
        "value": {"question": "资金方面呢？", "history": [
            {"role": "user", "content": "惠水的土地政策有哪些？"},
            {"role": "assistant", "content": "支持惠水县……[1]"}]},
    },
    "filtered": {
        "summary": "限定建议编号 / restricted to one suggestion",
        "value": {"question": "联动发展保障机制包括哪些内容？", "filters": {"suggestion_no": "第616号"}},
    },
}


def request_models(settings: Settings) -> tuple[type[BaseModel], type[BaseModel]]:
    """``(HistoryMessage, ChatRequest)`` with this deployment's limits built in."""
    history_chars = HISTORY_MESSAGE_FACTOR * settings.max_question_chars

    class HistoryMessage(BaseModel):
        """One earlier message of the conversation, oldest first."""

        model_config = ConfigDict(extra="forbid")

        role: Literal["user", "assistant"]
        content: str = Field(max_length=history_chars)

    class ChatRequest(BaseModel):
        """A question, the conversation so far (the API keeps no state) and optional filters."""

        model_config = ConfigDict(extra="forbid")

        question: str = Field(min_length=1, max_length=settings.max_question_chars,
                              description="the question, in Chinese or English")
        history: list[HistoryMessage] = Field(
            default_factory=list, max_length=settings.max_history_turns,
            description=f"earlier messages, oldest first; at most {settings.max_history_turns}")
        filters: ChatFilters | None = None

    return HistoryMessage, ChatRequest


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _question_error(exc: QuestionError) -> JSONResponse:
    return error_response(422, getattr(exc, "code", "invalid_question"), exc.message,
                          limit=getattr(exc, "limit", None))


def _unavailable(exc: ServiceUnavailable) -> JSONResponse:
    return error_response(503, "unavailable", exc.message, headers={"Retry-After": "30"})


def _unexpected(where: str) -> JSONResponse:
    log.exception("API %s failed", where)
    return error_response(500, "internal_error", GENERIC_ERROR)


def _public_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A document record as the browser may see it: file paths are cut to the file name."""
    source = str(doc.get("source") or "")
    if source and "://" not in source:
        source = PurePath(source).name
    return {**doc, "source": source}


def _filters(filters: BaseModel | None) -> dict[str, Any] | None:
    if filters is None:
        return None
    data = filters.model_dump(exclude_none=True)
    return data or None


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; the JSON is on a single ``data:`` line (json escapes newlines)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


SSE_HEARTBEAT = b": keep-alive\n\n"
TERMINAL_EVENTS = frozenset({"done", "error"})


async def _close_later(pending: "asyncio.Future[Any] | None", events: Iterator[Any]) -> None:
    """Let a ``next()`` still running in a worker thread finish, then close the generator there."""
    if pending is not None:
        try:
            await pending
        except BaseException:  # the stream is over; its outcome no longer matters, only cleanup
            log.debug("an abandoned answer stream ended with an error", exc_info=True)
    close = getattr(events, "close", None)
    if close is not None:
        try:
            await anyio.to_thread.run_sync(close)
        except Exception:
            log.debug("closing an abandoned answer stream failed", exc_info=True)


_cleanups: set[asyncio.Task[None]] = set()
_DONE = object()


class Workers:
    """Runs the assistant's blocking calls in worker threads, at most ``size`` at a time."""

    def __init__(self, size: int = MAX_CONCURRENT_ANSWERS):
        self.slots = asyncio.Semaphore(size)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.slots:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def iterate(self, events: Iterator[Any], batch_s: float = 0.05) -> AsyncIterator[Any]:
        """Advance a sync generator in worker threads, a slot per batch of events.

        One worker call takes every event the generator produces within ``batch_s`` of the first,
        so a cheap tail (an extractive answer's deltas, citations, done) does not queue again behind
        other requests, while a slow producer (an LLM's tokens) still streams as it goes.
        """
        while True:
            batch = await self.call(_next_batch, events, batch_s)
            for item in batch:
                if item is _DONE:
                    return
                if isinstance(item, _Raised):
                    raise item.error
                yield item


class _Raised:
    """An error raised after a batch's first event: delivered after the events before it."""

    def __init__(self, error: BaseException):
        self.error = error


def _next_batch(events: Iterator[Any], batch_s: float) -> list[Any]:
    batch = [next(events, _DONE)]  # an error here propagates at once
    deadline = time.perf_counter() + batch_s
    while batch[-1] is not _DONE and time.perf_counter() < deadline:
        try:
            batch.append(next(events, _DONE))
        except Exception as exc:  # noqa: BLE001 — re-raised in order by Workers.iterate
            batch += [_Raised(exc), _DONE]
    return batch


async def event_stream(first: tuple[str, dict], events: Iterator[tuple[str, dict]],
                       stream: AsyncIterator[tuple[str, dict]],
                       heartbeat_s: float = HEARTBEAT_SECONDS) -> AsyncIterator[bytes]:
    """Encode the assistant's events as SSE; a comment line every ``heartbeat_s`` of silence.

    The sync generator advances in worker threads (:meth:`Workers.iterate`), so the event loop
    keeps serving other requests while a model runs. A pending ``next()`` is never cancelled (a
    thread cannot be): on heartbeat it is simply awaited again, and when the client goes away
    the generator is closed once that call returns.
    """
    pending: asyncio.Future[Any] | None = None
    finished = False
    try:
        yield sse_event(*first)
        if first[0] in TERMINAL_EVENTS:
            finished = True
            return
        while True:
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_s)
            if not done:
                yield SSE_HEARTBEAT
                continue
            current, pending = pending, None
            try:
                name, data = current.result()
            except StopAsyncIteration:
                finished = True
                return
            except (QuestionError, ServiceUnavailable) as exc:
                finished = True
                yield sse_event("error", {"message": exc.message,
                                          "code": getattr(exc, "code", "unavailable")})
                return
            except Exception:
                finished = True
                log.exception("API chat/stream failed while streaming")
                yield sse_event("error", {"message": GENERIC_ERROR, "code": "internal_error"})
                return
            yield sse_event(name, data)
            if name in TERMINAL_EVENTS:
                finished = True
                return
    finally:
        if not finished:  # the client left early: release the generator in the background
            task = asyncio.get_running_loop().create_task(_close_later(pending, events))
            _cleanups.add(task)
            task.add_done_callback(_cleanups.discard)


# --------------------------------------------------------------------------------------------
# An offline API reference (FastAPI's /docs loads Swagger UI from a CDN)
# --------------------------------------------------------------------------------------------

REFERENCE_CSS = """
body{margin:0;font:15px/1.6 "WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;
color:#1f2328;background:#f5f6f8}
main{max-width:960px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px;color:#8e0c13}
h2{font-size:18px;margin:0 0 6px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px 20px;margin:16px 0}
.method{display:inline-block;min-width:52px;text-align:center;border-radius:4px;color:#fff;
font-size:13px;padding:1px 6px;margin-right:8px;background:#1f6feb}
.method.post{background:#b5121b}
code,pre{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:13px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:10px;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border-bottom:1px solid #eaecef;padding:5px 8px;text-align:left;vertical-align:top}
th{color:#57606a;font-weight:600}
.note{white-space:pre-wrap;color:#30363d}
h3{font-size:14px;margin:12px 0 4px;color:#57606a}
"""


def _ref_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _ref_name(option)
    if schema.get("type") == "array":
        return f"[{_ref_name(schema.get('items', {}))}]"
    return schema.get("type", "")


def _constraints(schema: dict[str, Any]) -> str:
    keys = {"minLength": "min length", "maxLength": "max length", "minimum": "≥", "maximum": "≤",
            "maxItems": "max items", "default": "default"}
    found = [f"{label} {schema[key]}" for key, label in keys.items() if key in schema]
    for option in schema.get("anyOf", []):
        found += [f"{label} {option[key]}" for key, label in keys.items() if key in option]
    return ", ".join(found)


def render_reference(spec: dict[str, Any]) -> str:
    """The OpenAPI document as one self-contained HTML page (every value escaped)."""
    from html import escape

    components = spec.get("components", {}).get("schemas", {})

    def rows(schema_name: str) -> str:
        schema = components.get(schema_name, {})
        required = set(schema.get("required", []))
        out = []
        for name, prop in schema.get("properties", {}).items():
            out.append(f"<tr><td><code>{escape(name)}</code>{' *' if name in required else ''}</td>"
                       f"<td>{escape(_ref_name(prop))}</td><td>{escape(_constraints(prop))}</td>"
                       f"<td>{escape(prop.get('description', ''))}</td></tr>")
        return ("<table><tr><th>field</th><th>type</th><th>limits</th><th>description</th></tr>"
                + "".join(out) + "</table>") if out else ""

    info = spec.get("info", {})
    version = escape(str(info.get("version", "")))
    error_shape = '<code>{"error": {"code", "message"}}</code>'
    parts = [
        f"<h1>{escape(info.get('title', 'API'))}</h1>",
        f'<p>{escape(info.get("description", ""))} · v{version} · <a href="/openapi.json">openapi.json</a></p>',
        f"<p>错误统一为 {error_shape}（message 先中文后英文）。/ Errors are {error_shape}.</p>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts.append("<section>")
            parts.append(f'<h2><span class="method {escape(method)}">{escape(method.upper())}</span>'
                         f"<code>{escape(path)}</code></h2>")
            parts.append(f"<p><strong>{escape(op.get('summary', ''))}</strong></p>")
            if op.get("description"):
                parts.append(f'<p class="note">{escape(op["description"])}</p>')
            params = op.get("parameters", [])
            if params:
                parts.append("<h3>parameters</h3><table><tr><th>name</th><th>in</th><th>type</th>"
                             "<th>limits</th><th>description</th></tr>")
                for prm in params:
                    schema = prm.get("schema", {})
                    parts.append(f"<tr><td><code>{escape(prm['name'])}</code>{' *' if prm.get('required') else ''}"
                                 f"</td><td>{escape(prm.get('in', ''))}</td><td>{escape(_ref_name(schema))}</td>"
                                 f"<td>{escape(_constraints(schema))}</td>"
                                 f"<td>{escape(prm.get('description', ''))}</td></tr>")
                parts.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                name = _ref_name(body.get("schema", {}))
                parts.append(f"<h3>request body: {escape(name)}</h3>{rows(name)}")
                for example in body.get("examples", {}).values():
                    parts.append(f"<p>{escape(example.get('summary', ''))}</p><pre>"
                                 f"{escape(json.dumps(example.get('value'), ensure_ascii=False, indent=2))}</pre>")
            parts.append("<h3>responses</h3><table>")
            for code, response in op.get("responses", {}).items():
                content = response.get("content", {})
                model = next((_ref_name(c.get("schema", {})) for c in content.values() if c.get("schema")), "")
                kind = ", ".join(content)
                parts.append(f"<tr><td>{escape(str(code))}</td><td>{escape(kind)}</td><td>{escape(model)}</td>"
                             f'<td class="note">{escape(response.get("description", ""))}</td></tr>')
            parts.append("</table></section>")
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(info.get('title', 'API'))}</title><style>{REFERENCE_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "invalid question or history; the message states the limit"},
    429: {"model": ErrorResponse, "description": "rate limit; see Retry-After"},
    503: {"model": ErrorResponse, "description": "the index or the vector store is not available"},
    500: {"model": ErrorResponse, "description": "unexpected error (logged; no details sent)"},
}

SSE_DESCRIPTION = """Server-sent events, each `event: NAME` + one `data: JSON` line:

* `meta` — `{"standalone_question", "language", "sources": [Citation…]}`
* `delta` — `{"text"}`, several; concatenated they are the answer
* `citations` — `{"citations": [Citation…], "refused": bool}`
* `done` — the full Answer (as `POST /api/chat` returns it)
* `error` — `{"message", "code"}` (the stream ends)

Lines starting with `:` are heartbeats; ignore them. Invalid input is answered with a JSON error
(422/503) before the stream starts."""

SSE_EXAMPLE = (
    'event: meta\ndata: {"standalone_question": "惠水的土地政策有哪些？", "language": "zh", "sources": [...]}\n\n'
    'event: delta\ndata: {"text": "支持惠水县……"}\n\n'
    'event: citations\ndata: {"citations": [...], "refused": false}\n\n'
    'event: done\ndata: {"question": "惠水的土地政策有哪些？", "answer": "…[1]", ...}\n\n'
)


def create_router(assistant: Assistant, settings: Settings) -> APIRouter:
    """The API routes for one assistant; limits come from ``settings``."""
    _, ChatRequest = request_models(settings)
    workers = Workers()
    chat_body = Body(openapi_examples=CHAT_EXAMPLES)
    router = APIRouter()

    @router.post("/api/chat", response_model=Answer, responses=ERRORS, tags=["chat"],
                 summary="Ask a question / 提问",
                 description="Answers from the indexed replies; `[n]` markers in `answer` point at "
                             "`citations[].marker`. A refusal has `refused: true` and no citations.")
    async def chat(body: Annotated[ChatRequest, chat_body]) -> Any:  # type: ignore[valid-type]
        history = [m.model_dump() for m in body.history]
        try:
            return await workers.call(assistant.ask, body.question, history, _filters(body.filters))
        except QuestionError as exc:
            return _question_error(exc)
        except ServiceUnavailable as exc:
            return _unavailable(exc)
        except Exception:  # noqa: BLE001 — the client gets a polite 500, the log the traceback
            return _unexpected("chat")

    @router.post("/api/chat/stream", responses={
        200: {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {"example": SSE_EXAMPLE}}},
        **ERRORS}, response_class=StreamingResponse, tags=["chat"],
        summary="Ask, streamed / 流式提问")
    async def chat_stream(body: Annotated[ChatRequest, chat_body]) -> Any:  # type: ignore[valid-type]
        history = [m.model_dump() for m in body.history]
        try:
            events = assistant.stream(body.question, history, _filters(body.filters))
            stream = workers.iterate(events)
            # The first event is read before answering, so invalid input and outages become
            # proper 422/503 responses instead of a 200 stream carrying an error.
            first = await stream.__anext__()
        except StopAsyncIteration:
            return _unexpected("chat/stream (empty stream)")
        except QuestionError as exc:
            return _question_error(exc)
        except ServiceUnavailable as exc:
            return _unavailable(exc)
        except Exception:  # noqa: BLE001
            return _unexpected("chat/stream")
        return StreamingResponse(
            event_stream(first, events, stream),
            media_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )

    @router.get("/api/search", response_model=SearchResponse, responses=ERRORS, tags=["browse"],
                summary="Search sections / 检索段落")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=settings.max_question_chars,
                                description="query text", examples=["惠水 土地"])],
        k: Annotated[int, Query(ge=1, le=50, description="how many sections")] = 10,
        suggestion_no: Annotated[str | None, Query(max_length=50, examples=["第616号"])] = None,
        doc_id: Annotated[list[str] | None, Query(max_length=MAX_FILTER_DOCS,
                                                  description="repeat to allow several documents")] = None,
    ) -> Any:
        filters = {key: value for key, value in (("suggestion_no", suggestion_no), ("doc_ids", doc_id))
                   if value}
        try:
            results = await workers.call(assistant.search, q, k=k, filters=filters or None)
        except QuestionError as exc:
            return _question_error(exc)
        except ServiceUnavailable as exc:
            return _unavailable(exc)
        except Exception:  # noqa: BLE001
            return _unexpected("search")
        return SearchResponse(query=q, results=results)

    @router.get("/api/documents", response_model=DocumentList, responses=ERRORS, tags=["browse"],
                summary="List documents / 文档列表")
    def documents() -> Any:
        try:
            return DocumentList(documents=[_public_document(d) for d in assistant.documents()])
        except ServiceUnavailable as exc:
            return _unavailable(exc)
        except Exception:  # noqa: BLE001
            return _unexpected("documents")

    @router.get("/api/documents/{doc_id}", response_model=DocumentDetail,
                responses={404: {"model": ErrorResponse, "description": "no such document"}, **ERRORS},
                tags=["browse"], summary="One document / 单个文档")
    def document(doc_id: Annotated[str, Path(max_length=200)]) -> Any:
        try:
            doc = assistant.document(doc_id)
        except ServiceUnavailable as exc:
            return _unavailable(exc)
        except Exception:  # noqa: BLE001
            return _unexpected("document")
        if doc is None:
            return error_response(
                404, "document_not_found",
                f"没有找到文档“{doc_id}”，请从 /api/documents 的列表中选择。/ "
                f"No document with id '{doc_id}'; see /api/documents for the list.")
        return _public_document(doc)

    @router.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness")
    def healthz() -> Health:
        return Health()

    @router.get("/readyz", response_model=Readiness,
                responses={503: {"model": Readiness, "description": "not ready; `message` says why"}},
                tags=["ops"], summary="Readiness")
    def readyz() -> Any:
        try:
            state = assistant.readiness()
        except Exception as exc:  # noqa: BLE001 — a readiness probe reports, it does not fail
            log.warning("readiness check failed: %s", exc)
            state = {"ready": False, "checks": {}, "message": getattr(exc, "message", GENERIC_ERROR)}
        body = Readiness(**state)
        return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503,
                            headers={"Cache-Control": "no-store"})

    @router.get("/api/docs", include_in_schema=False)
    def reference(request: Request) -> HTMLResponse:
        """This API described from its OpenAPI document, readable offline."""
        policy = content_security_policy(settings, "/api/docs", style_hashes=[sha256_source(REFERENCE_CSS)])
        return HTMLResponse(render_reference(request.app.openapi()),
                            headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"})

    api_routes = [r for r in router.routes if isinstance(r, APIRoute) and r.path.startswith("/api/")]

    @router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
    def unknown(request: Request) -> JSONResponse:
        """Unknown ``/api/…`` paths answer in the API's error format (else the page at "/" would).

        A path that exists with another method is a 405, as it would be without this route.
        """
        allowed = sorted({m for r in api_routes if r.path_regex.match(request.url.path) for m in r.methods})
        if allowed:
            return error_response(405, "method_not_allowed", "不支持该请求方法。/ This method is not allowed here.",
                                  headers={"Allow": ", ".join(allowed)})
        return error_response(404, "not_found", "没有这个接口，请查看 /api/docs。/ "
                                                "No such endpoint; see /api/docs.")

    return router
