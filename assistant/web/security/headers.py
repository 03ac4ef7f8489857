"""Security headers on every HTTP response, with a Content-Security-Policy chosen by path.

Hand-written rather than the ``secure`` package: its middleware sets one fixed set of headers and
overwrites a route's own CSP, where here the CSP depends on the path, a route may set its own,
and the page's policy lists the hashes of the inline scripts read from the body being served.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings
from assistant.web.security.csp import (
    UNHASHED_PAGE_PREFIXES,
    allowed_origins,
    content_security_policy,
    inline_script_hashes,
    surface,
)
from assistant.web.security.errors import GENERIC_ERROR, error_response

log = logging.getLogger(__name__)


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

    def add_headers(self, message: Message, scope: Scope, script_hashes: Sequence[str] = ()) -> None:
        """The headers on a response start message; those the route set itself are kept."""
        headers = MutableHeaders(scope=message)
        for name, value in self._static_headers(scope):
            if name not in headers:
                headers[name] = value
        if "content-security-policy" not in headers:
            headers["Content-Security-Policy"] = content_security_policy(
                self.settings, scope.get("path", ""), script_hashes=script_hashes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        wants_gzip = "gzip" in request_headers.get("accept-encoding", "").lower()
        if (surface(scope.get("path", "")) == "page" and scope.get("method") == "GET"
                and "text/html" in request_headers.get("accept", "")):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        response = _OutgoingResponse(self, scope, send, wants_gzip)
        try:
            await self.app(scope, receive, response.send)
        except Exception:
            # Answer here rather than in Starlette's outermost error layer, so that even a 500
            # carries the security headers. The traceback goes to the log, never to the client.
            if response.started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path", ""))
            await error_response(500, "internal_error", GENERIC_ERROR)(scope, receive, response.send)


class _OutgoingResponse:
    """One response on its way out through :class:`SecurityHeadersMiddleware`.

    An HTML document of the page is held until its body is complete (or too large to hash),
    then sent with a CSP that lists the hashes of its inline scripts.
    """

    def __init__(self, middleware: SecurityHeadersMiddleware, scope: Scope, send: Send, wants_gzip: bool):
        self.middleware = middleware
        self.scope = scope
        self.path = scope.get("path", "")
        self.downstream = send
        self.wants_gzip = wants_gzip
        self.held: Message | None = None  # the start message of a page being hashed
        self.chunks: list[bytes] = []
        self.sent = False

    @property
    def started(self) -> bool:
        """The response has begun (sent or held): an error can no longer become a 500."""
        return self.sent or self.held is not None

    def _hashable(self, start: Message) -> bool:
        headers = Headers(raw=start.get("headers", []))
        return (surface(self.path) == "page" and not self.path.startswith(UNHASHED_PAGE_PREFIXES)
                and headers.get("content-type", "").startswith("text/html")
                and "content-encoding" not in headers
                and "content-security-policy" not in headers)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self._hashable(message):
                self.held = message
                return
            self.middleware.add_headers(message, self.scope)
            self.sent = True
            await self.downstream(message)
        elif message["type"] == "http.response.body" and self.held is not None:
            await self._hold(message)
        else:
            await self.downstream(message)

    async def _hold(self, message: Message) -> None:
        self.chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
        if more and sum(len(c) for c in self.chunks) <= self.middleware.MAX_HTML_BYTES:
            return
        body, start, self.held = b"".join(self.chunks), self.held, None
        assert start is not None
        # A body too large to hash gets the policy without inline scripts (the page may break,
        # never silently loosen).
        self.middleware.add_headers(start, self.scope, [] if more else inline_script_hashes(body))
        if not more and self.wants_gzip and len(body) > 1024:  # what was asked for, after hashing
            body = gzip.compress(body, compresslevel=6)
            headers = MutableHeaders(scope=start)
            headers["Content-Encoding"] = "gzip"
            headers["Content-Length"] = str(len(body))
            headers.add_vary_header("Accept-Encoding")
        self.sent = True
        await self.downstream(start)
        await self.downstream({"type": "http.response.body", "body": body, "more_body": more})
