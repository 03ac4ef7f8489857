"""Limits and browser security for the whole web app: one ``install(app, settings)`` call.

What it adds, outermost first (each layer sees what the next one answers):

1. **Security headers** on every response — a Content-Security-Policy chosen by path
   (:func:`content_security_policy`), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
   frame rules (``frame-ancestors`` = ``'self'`` + the allowlist) and a few more.
2. **Origin guard** for ``/api/…``: a browser request whose ``Origin`` is neither this site nor on
   ``settings.allowed_origins`` is refused with 403 before it costs anything (CORS alone only
   hides the answer from the foreign page; the work would still be done).
3. **CORS** — Starlette's ``CORSMiddleware`` restricted to the allowlist (empty by default:
   same origin only). It has to be *that* class: Gradio's mounted app adds its own, very
   permissive CORS layer unless the parent app configures ``CORSMiddleware`` itself.
4. **Rate limit** — a token bucket per client IP on ``/api/…`` (``settings.rate_limit_per_minute``),
   429 with ``Retry-After``.
5. **Body limit** — ``settings.max_body_bytes`` → 413, checked on ``Content-Length`` and while
   the body streams in (chunked uploads have no length).

It also registers the JSON error format shared by every API error,
``{"error": {"code": "...", "message": "中文 / English"}}``, for validation errors (422 that
states the limit), HTTP errors and anything unexpected (500, logged, no traceback sent).

The Gradio page needs a looser policy than the API; see :func:`content_security_policy` for
what it needs and why, and :class:`SecurityHeadersMiddleware` for how the page's inline scripts
are allowed by hash instead of ``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings

log = logging.getLogger(__name__)

#: Paths that belong to the JSON API (rate-limited, origin-guarded, strictest CSP).
API_PREFIX = "/api/"
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
WIDGET_SCRIPT_PATH = "/widget.js"
WIDGET_PREFIX = "/widget/"

#: Page paths whose HTML is *not* trusted to carry inline scripts: files Gradio serves (uploads,
#: component outputs) get the page policy without hashes, so a script inside them never runs.
UNHASHED_PAGE_PREFIXES = ("/gradio_api/", "/file=", "/static/", "/assets/")

GENERIC_ERROR = "抱歉，服务暂时出现问题，请稍后再试。/ Sorry, something went wrong on our side. Please try again later."


# --------------------------------------------------------------------------------------------
# The error format
# --------------------------------------------------------------------------------------------


def error_payload(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", …}}`` — extra keys (``limit``, ``field``) only when set."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse(error_payload(code, message, **extra), status_code=status, headers=headers)


_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确。/ The request is malformed."),
    403: ("forbidden", "无权访问。/ Access is not allowed."),
    404: ("not_found", "没有找到该地址。/ Nothing was found at this address."),
    405: ("method_not_allowed", "不支持该请求方法。/ This method is not allowed here."),
    413: ("body_too_large", "请求内容太大。/ The request body is too large."),
    415: ("unsupported_media_type", "请以 JSON 格式提交。/ Please send JSON."),
    429: ("rate_limited", "请求太频繁，请稍后再试。/ Too many requests; please try again later."),
}


# --------------------------------------------------------------------------------------------
# Content-Security-Policy
# --------------------------------------------------------------------------------------------


def normalize_origin(origin: str) -> str:
    """``HTTPS://Example.org:443/`` → ``https://example.org`` (the form browsers send)."""
    origin = origin.strip().rstrip("/")
    if origin in ("*", "null"):
        return origin
    parts = urlsplit(origin)
    if not parts.scheme or not parts.hostname:
        return origin.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def allowed_origins(settings: Settings) -> list[str]:
    """The allowlist in browser form; ``"null"`` (sandboxed frames, files) is never allowed."""
    return sorted({normalize_origin(o) for o in settings.allowed_origins if o.strip()} - {"null"})


def surface(path: str) -> str:
    """Which part of the app a path belongs to: ``"api"``, ``"widget"`` (the demo page) or ``"page"``."""
    if path.startswith(API_PREFIX) or path in PROBE_PATHS or path == WIDGET_SCRIPT_PATH:
        return "api"
    if path in ("/openapi.json", "/docs", "/redoc"):
        return "api"
    if path.startswith(WIDGET_PREFIX):
        return "widget"
    return "page"


def _frame_ancestors(settings: Settings) -> str:
    origins = [o for o in allowed_origins(settings) if o != "*"]
    return " ".join(["'self'", *origins])


def content_security_policy(settings: Settings, path: str, *, script_hashes: Sequence[str] = (),
                            style_hashes: Sequence[str] = ()) -> str:
    """The CSP for a response to ``path``.

    * **API** (JSON, SSE, ``/widget.js``): nothing may load or run — ``default-src 'none'`` and
      the responses cannot be framed; the offline reference ``/api/docs`` adds its inline
      stylesheet by hash (``style_hashes``).
    * **Widget demo page**: scripts from this origin only; its one inline ``<style>`` is allowed
      by hash (``style_hashes``). The widget styles its Shadow DOM with constructable
      stylesheets, which CSP does not restrict, so it also works on host pages with a strict CSP.
    * **Gradio page** — the minimum Gradio 6 works with:

      - ``script-src 'self' 'sha256-…'``: Gradio's ``index.html`` carries four inline scripts
        (the config, the mode flag, the iframe-resizer loader and a padding fix). Their hashes
        are computed from the HTML actually served (``script_hashes``), so ``'unsafe-inline'``
        is not needed and an injected inline script or ``on…=`` handler does not run.
      - ``'unsafe-eval'``: ``gr.HTML(js_on_load=…)`` runs its code with ``new Function``.
      - ``style-src 'self' 'unsafe-inline'``: Svelte writes ``style="…"`` attributes and Gradio
        injects ``<style>`` elements (theme, ``css=``, a component's ``head``).
      - ``img-src``/``media-src`` ``data: blob:`` for icons and generated media,
        ``worker-src blob:`` for Gradio's workers; ``connect-src 'self'`` (its SSE and fetches).

    Every policy forbids plugins (``object-src 'none'``), pins ``base-uri`` and ``form-action``
    and sets ``frame-ancestors`` to ``'self'`` plus the allowlist (``'none'`` for the API).
    """
    kind = surface(path)
    if kind == "api":
        directives = ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]
        if style_hashes:  # an API document page (``/api/docs``) with its stylesheet inline
            directives.append("style-src " + " ".join(f"'{h}'" for h in style_hashes))
    elif kind == "widget":
        directives = [
            "default-src 'none'",
            "script-src 'self'",
            "style-src " + " ".join(["'self'", *(f"'{h}'" for h in style_hashes)]),
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {_frame_ancestors(settings)}",
        ]
    else:
        directives = [
            "default-src 'self'",
            "script-src " + " ".join(["'self'", "'unsafe-eval'", *(f"'{h}'" for h in script_hashes)]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' data: blob:",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "frame-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {_frame_ancestors(settings)}",
        ]
    return "; ".join(directives)


def sha256_source(content: str | bytes) -> str:
    """A CSP hash source (without quotes) for an inline script or style, e.g. ``sha256-…``."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


_INLINE_SCRIPT = re.compile(rb"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SRC_ATTR = re.compile(rb"\bsrc\s*=", re.IGNORECASE)


def inline_script_hashes(html: bytes) -> list[str]:
    """Hashes of the inline ``<script>`` elements of an HTML document, in document order."""
    hashes: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        if _SRC_ATTR.search(match.group("attrs")):
            continue
        source = sha256_source(match.group("body"))
        if source not in hashes:
            hashes.append(source)
    return hashes


# --------------------------------------------------------------------------------------------
# Middlewares (plain ASGI: no buffering of streamed responses, no per-request task juggling)
# --------------------------------------------------------------------------------------------


def _same_origin(origin: str, scope: Scope) -> bool:
    """The request comes from a page of this very site (compared on host:port, as sent)."""
    host = Headers(scope=scope).get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == host.lower()


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response.

    For HTML documents of the Gradio page the body is read before the headers are sent, so the
    CSP can list the hashes of exactly the inline scripts being served. Page navigations are
    asked for an uncompressed body (``Accept-Encoding`` is dropped) so that reading it needs no
    decoder, and gzipped here afterwards when the browser accepts it; JS, CSS and API responses
    pass straight through, streamed as they come.
    A route may set its own ``Content-Security-Policy`` (the demo page does); it is kept.
    """

    MAX_HTML_BYTES = 4 * 1024 * 1024

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings
        self.frame_options = "SAMEORIGIN" if not allowed_origins(settings) else None

    def _static_headers(self, scope: Scope) -> list[tuple[str, str]]:
        headers = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if self.frame_options:
            headers.append(("X-Frame-Options", self.frame_options))
        if scope.get("scheme") == "https":
            headers.append(("Strict-Transport-Security", "max-age=31536000"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        is_page = surface(path) == "page"
        request_headers = Headers(scope=scope)
        wants_gzip = "gzip" in request_headers.get("accept-encoding", "").lower()
        if is_page and scope.get("method") == "GET" and "text/html" in request_headers.get("accept", ""):
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]

        held: dict[str, Any] = {}  # the start message and body of an HTML page being hashed
        chunks: list[bytes] = []

        def add_headers(message: Message, script_hashes: Sequence[str] = ()) -> None:
            headers = MutableHeaders(scope=message)
            for name, value in self._static_headers(scope):
                if name not in headers:
                    headers[name] = value
            if "content-security-policy" not in headers:
                headers["Content-Security-Policy"] = content_security_policy(
                    self.settings, path, script_hashes=script_hashes)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                hashable = (is_page and not path.startswith(UNHASHED_PAGE_PREFIXES)
                            and headers.get("content-type", "").startswith("text/html")
                            and "content-encoding" not in headers
                            and "content-security-policy" not in headers)
                if hashable:
                    held["start"] = message
                    return
                add_headers(message)
                held["sent"] = True
                await send(message)
                return
            if message["type"] == "http.response.body" and "start" in held:
                chunks.append(message.get("body", b""))
                total = sum(len(c) for c in chunks)
                if message.get("more_body", False) and total <= self.MAX_HTML_BYTES:
                    return
                body = b"".join(chunks)
                start = held.pop("start")
                # A body too large to hash gets the policy without inline scripts (page may break,
                # never silently loosen).
                complete = not message.get("more_body", False)
                hashes = inline_script_hashes(body) if complete else []
                add_headers(start, hashes)
                if complete and wants_gzip and len(body) > 1024:  # what was asked for, after hashing
                    body = gzip.compress(body, compresslevel=6)
                    headers = MutableHeaders(scope=start)
                    headers["Content-Encoding"] = "gzip"
                    headers["Content-Length"] = str(len(body))
                    headers.add_vary_header("Accept-Encoding")
                held["sent"] = True
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": not complete})
                return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Answer here rather than in Starlette's outermost error layer, so that even a 500
            # carries the security headers. The traceback goes to the log, never to the client.
            if held.get("sent") or "start" in held:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            await error_response(500, "internal_error", GENERIC_ERROR)(scope, receive, send_wrapper)


class OriginGuardMiddleware:
    """Refuses ``/api/…`` requests from browser pages of origins that are not allowed (403).

    Requests without ``Origin`` (curl, server-to-server, same-origin GETs) and requests from this
    site itself pass; so do preflights and requests from allowlisted origins.
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.allowed = set(allowed_origins(settings))

    def allows(self, origin: str, scope: Scope) -> bool:
        return "*" in self.allowed or normalize_origin(origin) in self.allowed or _same_origin(origin, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(API_PREFIX):
            origin = Headers(scope=scope).get("origin")
            if origin is not None and not self.allows(origin, scope):
                response = error_response(
                    403, "origin_not_allowed",
                    f"此网站（{origin}）未获授权使用智能问答服务。/ "
                    f"This site ({origin}) is not allowed to use the assistant.",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """Per-key token buckets: ``capacity`` requests at once, refilled at ``per_minute`` a minute.

    Buckets that have refilled completely are equivalent to absent ones, so they are dropped
    when the table grows past ``max_keys`` — memory stays bounded under many client addresses.
    Runs on the event loop only (one thread), so it needs no lock.
    """

    def __init__(self, per_minute: int, capacity: int | None = None, max_keys: int = 10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(capacity or per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; 0 when allowed, otherwise the seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = self._refilled(bucket, now)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else 60.0

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if self._refilled(b, now) >= self.capacity]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the longest-idle half
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].updated)[: self.max_keys // 2]:
                del self._buckets[key]


class RateLimitMiddleware:
    """A token bucket per client IP on ``/api/…`` (preflights are free); 429 with ``Retry-After``.

    The client IP is the socket peer as uvicorn reports it; behind a reverse proxy run uvicorn
    with ``--proxy-headers --forwarded-allow-ips`` so that it is the visitor's address. Buckets
    live in this process: with several workers each keeps its own.
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.per_minute = settings.rate_limit_per_minute
        self.buckets = TokenBucket(self.per_minute) if self.per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.buckets is not None and scope["type"] == "http"
                and scope.get("path", "").startswith(API_PREFIX) and scope.get("method") != "OPTIONS"):
            client = scope.get("client")
            wait = self.buckets.take(client[0] if client else "unknown")
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = error_response(
                    429, "rate_limited",
                    f"请求太频繁：每分钟最多 {self.per_minute} 次，请 {retry} 秒后再试。/ "
                    f"Too many requests: at most {self.per_minute} per minute. Please retry in {retry} s.",
                    headers={"Retry-After": str(retry)}, limit=self.per_minute, retry_after=retry,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An ``HTTPException`` on purpose: FastAPI turns any other exception raised while it reads a
    body into a 400, but re-raises HTTP exceptions, so this one reaches the 413 handler.
    """

    def __init__(self, limit: int):
        super().__init__(413, _body_message(limit))
        self.limit = limit


def _body_message(limit: int) -> str:
    return (f"请求内容太大：最多 {limit} 字节。请缩短问题或清空对话后再试。/ "
            f"The request body is too large: at most {limit} bytes. Shorten the question or clear the conversation.")


class BodyLimitMiddleware:
    """``settings.max_body_bytes`` on every request body → 413."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.limit = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await error_response(400, "bad_content_length", "Content-Length 无效。/ Invalid Content-Length.")(
                    scope, receive, send)
                return
            if int(length) > self.limit:
                await error_response(413, "body_too_large", _body_message(self.limit), limit=self.limit)(
                    scope, receive, send)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(413, "body_too_large", _body_message(self.limit), limit=self.limit)(
                scope, receive, send)


# --------------------------------------------------------------------------------------------
# Validation errors → one polite sentence that states the limit
# --------------------------------------------------------------------------------------------


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def explain_validation_error(errors: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The first validation error as ``{"code", "message", "field", "limit"}`` in zh and en."""
    errors = list(errors)
    if not errors:
        return {"code": "invalid_request", "message": "请求格式不正确。/ The request is malformed."}
    error = errors[0]
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    field = _field_name(loc)
    name = str(loc[-1]) if loc else ""
    limit = ctx.get("max_length", ctx.get("le", ctx.get("lt")))

    if kind == "json_invalid":
        return {"code": "invalid_json", "message": "请求内容不是有效的 JSON。/ The request body is not valid JSON."}
    if field in ("question", "q"):
        if kind == "string_too_long":
            return {"code": "question_too_long", "field": field, "limit": limit,
                    "message": f"问题太长了：最多 {limit} 个字符，请精简后再问。/ "
                               f"The question is too long: at most {limit} characters."}
        if kind in ("missing", "string_too_short"):
            return {"code": "empty_question", "field": field,
                    "message": "请输入您的问题。/ Please type a question."}
    if field == "history" and kind == "too_long":
        return {"code": "history_too_long", "field": field, "limit": limit,
                "message": f"对话历史太长：最多 {limit} 条，请清空对话后再问。/ "
                           f"The conversation history is too long: at most {limit} messages."}
    if len(loc) >= 3 and loc[1] == "history":
        position = int(loc[2]) + 1 if str(loc[2]).isdigit() else loc[2]
        if kind == "string_too_long":
            return {"code": "history_message_too_long", "field": field, "limit": limit,
                    "message": f"对话历史第 {position} 条太长：最多 {limit} 个字符。/ "
                               f"History message {position} is too long: at most {limit} characters."}
        return {"code": "bad_history", "field": field,
                "message": f"对话历史第 {position} 条格式不正确（role 为 user 或 assistant，content 为文字）。/ "
                           f"History message {position} is malformed (role must be user or assistant, "
                           f"content text)."}
    if kind == "extra_forbidden":
        return {"code": "unknown_field", "field": field,
                "message": f"不支持的字段：{field}。/ Unknown field: {field}."}
    if kind in ("too_long", "string_too_long") and limit is not None:
        return {"code": "too_long", "field": field, "limit": limit,
                "message": f"{name} 太长：最多 {limit}。/ {name} is too long: at most {limit}."}
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        low, high = ctx.get("ge", ctx.get("gt")), ctx.get("le", ctx.get("lt"))
        bound = f"≤ {high}" if high is not None else f"≥ {low}"
        return {"code": "out_of_range", "field": field, "limit": high if high is not None else low,
                "message": f"参数 {name} 超出范围（应 {bound}）。/ Parameter {name} is out of range (must be {bound})."}
    if kind == "missing":
        return {"code": "missing_field", "field": field,
                "message": f"缺少字段：{field}。/ Missing field: {field}."}
    return {"code": "invalid_request", "field": field,
            "message": f"请求格式不正确：{field}。/ The request is malformed: {field} ({error.get('msg', kind)})."}


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    explained = explain_validation_error(exc.errors())
    return error_response(422, explained.pop("code"), explained.pop("message"), **explained)


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, message = _HTTP_ERRORS.get(exc.status_code, ("http_error", GENERIC_ERROR))
    extra: dict[str, Any] = {}
    if isinstance(exc, BodyTooLarge):
        message, extra = exc.detail, {"limit": exc.limit}
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None), **extra)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", GENERIC_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """The JSON error format for validation errors, HTTP errors and anything unexpected."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares (outermost last) and the error handlers to ``app``.

    Call before the app starts serving; the order of ``mount_gradio_app`` does not matter.
    """
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed_origins(settings),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Accept"],
        expose_headers=["Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(OriginGuardMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
