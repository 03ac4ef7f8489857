"""Content-Security-Policy: which policy a path gets, and the hashes that allow inline code.

The Gradio page needs a looser policy than the API; :func:`content_security_policy` says what it
needs and why. The page's inline scripts are allowed by hash, computed from the HTML actually
served (:func:`inline_script_hashes`), never by ``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from assistant.settings import Settings

#: Paths that belong to the JSON API (rate-limited, origin-guarded, strictest CSP).
API_PREFIX = "/api/"
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
WIDGET_SCRIPT_PATH = "/widget.js"
WIDGET_PREFIX = "/widget/"

#: Page paths whose HTML is *not* trusted to carry inline scripts: files Gradio serves (uploads,
#: component outputs) get the page policy without hashes, so a script inside them never runs.
UNHASHED_PAGE_PREFIXES = ("/gradio_api/", "/file=", "/static/", "/assets/")


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
