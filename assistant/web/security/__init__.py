"""Limits and browser security for the whole web app: one ``install(app, settings)`` call.

What it adds, outermost first (each layer sees what the next one answers):

1. **Security headers** on every response (:mod:`.headers`) — a Content-Security-Policy chosen
   by path (:mod:`.csp`), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, frame rules
   (``frame-ancestors`` = ``'self'`` + the allowlist) and a few more.
2. **Origin guard** for ``/api/…`` (:mod:`.origin`): a browser request whose ``Origin`` is neither
   this site nor on ``settings.allowed_origins`` is refused with 403 before it costs anything.
3. **CORS** — Starlette's ``CORSMiddleware`` restricted to the allowlist (empty by default:
   same origin only).
4. **Rate limit** (:mod:`.ratelimit`) — a token bucket per client IP on ``/api/…``
   (``settings.rate_limit_per_minute``), 429 with ``Retry-After``.
5. **Body limit** (:mod:`.bodylimit`) — ``settings.max_body_bytes`` → 413.

It also registers the JSON error format shared by every API error (:mod:`.errors`,
:mod:`.validation`), ``{"error": {"code": "...", "message": "中文 / English"}}``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from assistant.settings import Settings
from assistant.web.security.bodylimit import BodyLimitMiddleware
from assistant.web.security.csp import content_security_policy, inline_script_hashes, sha256_source
from assistant.web.security.errors import GENERIC_ERROR, error_response, install_error_handlers
from assistant.web.security.headers import SecurityHeadersMiddleware
from assistant.web.security.origin import OriginGuardMiddleware, cors_options
from assistant.web.security.ratelimit import RateLimitMiddleware, TokenBucket
from assistant.web.security.validation import explain_validation_error

__all__ = [
    "GENERIC_ERROR", "TokenBucket", "content_security_policy", "error_response", "explain_validation_error",
    "inline_script_hashes", "install", "sha256_source",
]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares (outermost last) and the error handlers to ``app``.

    Call before the app starts serving; the order of ``mount_gradio_app`` does not matter.
    """
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.add_middleware(OriginGuardMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
