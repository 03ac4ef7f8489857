"""The HTTP API: a thin, typed layer over :class:`~assistant.core.Assistant`.

Endpoints (all JSON unless said otherwise; errors are ``{"error": {"code", "message"}}``)::

    POST /api/chat            {"question", "history": [...], "filters": {...}} → Answer
    POST /api/chat/stream     same body → text/event-stream: meta, delta…, citations, done | error
    GET  /api/search?q=&k=    ranked sections (filters: suggestion_no, doc_id, issuer, kind, year)
    GET  /api/documents       the indexed replies, newest first (filters: issuer, kind, year, number)
    GET  /api/documents/{id}  one reply with its sections in order (404 when unknown)
    GET  /healthz             the process is alive
    GET  /readyz              200 with the readiness dict when ready, 503 otherwise
    GET  /api/config          the limits a client trims to (question length, history, body) and example questions
    GET  /api/docs            this list, from the OpenAPI document, as a page that works offline

The API is stateless: the client sends the conversation history with each question. Request
limits (question length, history policy) are part of the request models (:mod:`.models`);
``security.install`` renders validation errors as a 422 that states the limit. Answers stream
through :mod:`.sse`; the reference page is :mod:`.reference`.

This module deliberately does not use ``from __future__ import annotations``: the request model
is built per ``Settings``, and FastAPI must see the real class in the endpoint signatures.
"""

import functools
import logging
import re
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from assistant.core import Assistant
from assistant.errors import QuestionError, ServiceUnavailable
from assistant.schema import Answer
from assistant.settings import Settings
from assistant.web.answer_log import AnswerRecorder
from assistant.web.models import (
    ERRORS,
    ISSUER,
    KIND,
    MAX_FILTER_DOCS,
    MAX_YEAR,
    MIN_YEAR,
    NUMBER,
    YEAR,
    ClientConfig,
    DocumentDetail,
    DocumentList,
    ErrorResponse,
    Health,
    Readiness,
    SearchResponse,
    chat_examples,
    request_models,
)
from assistant.web.reference import reference_response
from assistant.web.security import GENERIC_ERROR, error_response
from assistant.web.sse import SSE_DESCRIPTION, SSE_EXAMPLE, Workers, event_stream

log = logging.getLogger(__name__)

# The document criteria of /api/search and /api/documents (the chat body's ChatFilters has them too).
IssuerQuery = Annotated[str | None, Query(min_length=1, max_length=100, description=ISSUER, examples=["德阳"])]
KindQuery = Annotated[str | None, Query(min_length=1, max_length=20, description=KIND, examples=["政协提案"])]
YearQuery = Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description=YEAR, examples=[2024])]
NumberQuery = Annotated[str | None, Query(max_length=50, description=NUMBER, examples=["第616号"])]

#: Who asks: the widget says so (``?channel=widget``); the page answers through its own path.
ChannelQuery = Annotated[Literal["api", "widget"], Query(
    description="who asks, for the conversation log: api (default) or widget / 提问渠道")]

#: The limits change only with a restart; clients may keep them a few minutes.
CONFIG_CACHE_CONTROL = "public, max-age=600"


def _error_for(exc: Exception, where: str) -> JSONResponse:
    """The API's answer to an exception from the assistant; call it inside the ``except``."""
    if isinstance(exc, QuestionError):
        return error_response(422, getattr(exc, "code", "invalid_question"), exc.message,
                              limit=getattr(exc, "limit", None))
    if isinstance(exc, ServiceUnavailable):
        return error_response(503, "unavailable", exc.message, headers={"Retry-After": "30"})
    log.exception("API %s failed", where)  # the client gets a polite 500, the log the traceback
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


def create_router(assistant: Assistant, settings: Settings, answers: AnswerRecorder | None = None) -> APIRouter:
    """The API routes for one assistant; limits come from ``settings``; answers are logged by
    ``answers`` (none: not logged)."""
    router = APIRouter()
    workers = Workers()
    _add_chat_routes(router, answers or AnswerRecorder(assistant, None), settings, workers)
    _add_browse_routes(router, assistant, settings, workers)
    _add_ops_routes(router, assistant, settings)
    _add_fallback_route(router)  # last: it sees every other /api/ route
    return router


def _add_chat_routes(router: APIRouter, answers: AnswerRecorder, settings: Settings, workers: Workers) -> None:
    _, ChatRequest = request_models(settings)
    chat_body = Body(openapi_examples=chat_examples(settings))

    @router.post("/api/chat", response_model=Answer, responses=ERRORS, tags=["chat"],
                 summary="Ask a question / 提问",
                 description="Answers from the indexed replies; `[n]` markers in `answer` point at "
                             "`citations[].marker`. A refusal has `refused: true` and no citations.")
    async def chat(body: Annotated[ChatRequest, chat_body],  # type: ignore[valid-type]
                   channel: ChannelQuery = "api") -> Any:
        history = [m.model_dump() for m in body.history]
        try:
            return await workers.call(answers.ask, channel, body.question, history, _filters(body.filters))
        except Exception as exc:  # noqa: BLE001 — mapped to 422/503/500
            return _error_for(exc, "chat")

    @router.post("/api/chat/stream", responses={
        200: {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {"example": SSE_EXAMPLE}}},
        **ERRORS}, response_class=StreamingResponse, tags=["chat"],
        summary="Ask, streamed / 流式提问")
    async def chat_stream(body: Annotated[ChatRequest, chat_body],  # type: ignore[valid-type]
                          channel: ChannelQuery = "api") -> Any:
        history = [m.model_dump() for m in body.history]
        try:
            events = answers.stream(channel, body.question, history, _filters(body.filters))
            stream = workers.iterate(events)
            # The first event is read before answering, so invalid input and outages become
            # proper 422/503 responses instead of a 200 stream carrying an error.
            first = await stream.__anext__()
        except StopAsyncIteration as exc:
            return _error_for(exc, "chat/stream (empty stream)")
        except Exception as exc:  # noqa: BLE001
            return _error_for(exc, "chat/stream")
        return StreamingResponse(
            event_stream(first, events, stream),
            media_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )


def _add_browse_routes(router: APIRouter, assistant: Assistant, settings: Settings, workers: Workers) -> None:
    @router.get("/api/search", response_model=SearchResponse, responses=ERRORS, tags=["browse"],
                summary="Search sections / 检索段落")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=settings.max_question_chars,
                                description="query text", examples=settings.examples()[:1])],
        k: Annotated[int, Query(ge=1, le=50, description="how many sections")] = 10,
        suggestion_no: NumberQuery = None,
        doc_id: Annotated[list[str] | None, Query(max_length=MAX_FILTER_DOCS,
                                                  description="repeat to allow several documents; an id "
                                                              "that names no document is a 422")] = None,
        issuer: IssuerQuery = None,
        kind: KindQuery = None,
        year: YearQuery = None,
    ) -> Any:
        doc_id = [d for d in doc_id or () if d] or None  # "doc_id=" (empty) restricts nothing
        filters = {key: value for key, value in (("suggestion_no", suggestion_no), ("doc_ids", doc_id),
                                                 ("issuer", issuer), ("kind", kind), ("year", year))
                   if value}
        known = assistant.index.snapshot.documents
        unknown = [d for d in doc_id or () if d not in known]
        if unknown:  # a search confined to nothing is a mistake in the request, not an empty result
            return error_response(422, "unknown_document", f"没有文档“{unknown[0]}”，请从 /api/documents 的列表中选择。/ "
                                                           f"No document '{unknown[0]}'; see /api/documents.")
        try:
            results = await workers.call(assistant.search, q, k=k, filters=filters or None)
        except Exception as exc:  # noqa: BLE001
            return _error_for(exc, "search")
        return SearchResponse(query=q, results=results)

    @router.get("/api/documents", response_model=DocumentList, responses=ERRORS, tags=["browse"],
                summary="List documents / 文档列表",
                description="Newest first (undated last, then by title); the criteria given must all hold.")
    def documents(issuer: IssuerQuery = None, kind: KindQuery = None, year: YearQuery = None,
                  number: NumberQuery = None) -> Any:
        try:
            found = assistant.documents(issuer=issuer, kind=kind, year=year, number=number)
            return DocumentList(documents=[_public_document(d) for d in found])
        except Exception as exc:  # noqa: BLE001
            return _error_for(exc, "documents")

    @router.get("/api/documents/{doc_id}", response_model=DocumentDetail,
                responses={404: {"model": ErrorResponse, "description": "no such document"}, **ERRORS},
                tags=["browse"], summary="One document / 单个文档")
    def document(doc_id: Annotated[str, Path(max_length=200)]) -> Any:
        try:
            doc = assistant.document(doc_id)
        except Exception as exc:  # noqa: BLE001
            return _error_for(exc, "document")
        if doc is None:
            return error_response(
                404, "document_not_found",
                f"没有找到文档“{doc_id}”，请从 /api/documents 的列表中选择。/ "
                f"No document with id '{doc_id}'; see /api/documents for the list.")
        return _public_document(doc)


def _add_ops_routes(router: APIRouter, assistant: Assistant, settings: Settings) -> None:
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

    config = ClientConfig.from_settings(settings).model_dump()

    @router.get("/api/config", response_model=ClientConfig, tags=["ops"],
                summary="Client limits / 客户端限制",
                description="What a client trims to before sending: the question length, the history "
                            "policy and the body size. Public and cached; not rate-limited.")
    def client_config() -> JSONResponse:
        return JSONResponse(config, headers={"Cache-Control": CONFIG_CACHE_CONTROL})

    @router.get("/api/docs", include_in_schema=False)
    def reference(request: Request) -> HTMLResponse:
        """This API described from its OpenAPI document, readable offline."""
        return reference_response(request.app.openapi(), settings)


#: Methods no route takes (405 where the path exists, instead of the page's 404).
OTHER_METHODS = ("TRACE", "QUERY", "CONNECT", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
                 "SEARCH", "LINK", "UNLINK")


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    """``/api/documents/{doc_id}`` → a pattern for its paths."""
    return re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")


def _add_fallback_route(router: APIRouter) -> None:
    api_routes = [r for r in router.routes if isinstance(r, APIRoute) and r.path.startswith("/api/")]
    outside = [r for r in router.routes if isinstance(r, APIRoute) and not r.path.startswith("/api/")]

    def method_not_allowed(request: Request) -> JSONResponse | None:
        """A 405 naming the methods the app's OpenAPI document lists at this path (this API's, the
        admin API's …), when there are any."""
        allowed = sorted({m.upper() for template, ops in request.app.openapi()["paths"].items()
                          if _template_regex(template).match(request.url.path) for m in ops} | (
            {m for r in api_routes if r.path_regex.match(request.url.path) for m in r.methods}))
        if allowed:
            return error_response(405, "method_not_allowed", "不支持该请求方法。/ This method is not allowed here.",
                                  headers={"Allow": ", ".join(allowed)})
        return None

    def other_method_here(request: Request) -> JSONResponse:
        return method_not_allowed(request) or error_response(404, "not_found", "没有找到该地址。/ Nothing was "
                                                                               "found at this address.")

    # /healthz and /readyz live outside /api/: their other methods are named path by path (a
    # catch-all for them would take the page's own requests).
    for route in outside:
        router.add_api_route(route.path, other_method_here, include_in_schema=False,
                             methods=sorted({"POST", "PUT", "PATCH", "DELETE"} - route.methods))

    # TRACE (which would echo a request, cookies included), QUERY, WebDAV … are allowed nowhere:
    # 405 on the API's paths (the page's paths go on answering 404).
    router.add_api_route("/{rest:path}", other_method_here, methods=list(OTHER_METHODS), include_in_schema=False)

    @router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
    def unknown(request: Request) -> JSONResponse:
        """Unknown ``/api/…`` paths answer in the API's error format (else the page at "/" would).

        A path that exists with another method is a 405, as it would be without this route.
        """
        return method_not_allowed(request) or error_response(404, "not_found", "没有这个接口，请查看 /api/docs。/ "
                                                "No such endpoint; see /api/docs.")
