"""Which browser pages may call the API: the origin guard and the CORS options.

CORS alone only hides an answer from a foreign page; the work would still be done. The guard
refuses such requests with 403 before they cost anything.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.settings import Settings
from assistant.web.security.csp import API_PREFIX, allowed_origins, normalize_origin
from assistant.web.security.errors import error_response


def cors_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for Starlette's ``CORSMiddleware``: the allowlist only (empty: same origin).

    It has to be *that* class: Gradio's mounted app adds its own, very permissive CORS layer
    unless the parent app configures ``CORSMiddleware`` itself.
    """
    return {
        "allow_origins": allowed_origins(settings),
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Content-Type", "Accept"],
        "expose_headers": ["Retry-After"],
        "allow_credentials": False,
        "max_age": 600,
    }


def _same_origin(origin: str, scope: Scope) -> bool:
    """The request comes from a page of this very site (compared on host:port, as sent)."""
    host = Headers(scope=scope).get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == host.lower()


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
