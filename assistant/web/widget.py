"""Serves the embeddable widget (``/widget.js``) and a demo host page (``/widget/demo``).

The script is public: any page may load it (it is what other sites embed), so it is served
with long-lived caching, an ETag, a ready-made gzip copy and
``Cross-Origin-Resource-Policy: cross-origin``. Whether a site may *use* it is decided by the
API (``security.install``: CORS allowlist + origin guard); the widget tells its visitors when
their site is refused.

The demo page looks like a page of a city government site with the widget tag on it. It has
no external assets; its one inline ``<style>`` is allowed by hash in its CSP.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

from assistant.settings import Settings
from assistant.web.security import content_security_policy, sha256_source

STATIC_DIR = Path(__file__).parent / "static"
SCRIPT_FILE = STATIC_DIR / "widget.js"
DEMO_TEMPLATE = STATIC_DIR / "demo.html"

#: Browsers revalidate after an hour; the ETag makes that a 304 when nothing changed.
SCRIPT_CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=1)
def widget_script() -> WidgetScript:
    """The script, its gzip form and its ETag (read once per process)."""
    body = SCRIPT_FILE.read_bytes()
    return WidgetScript(body=body, gzipped=gzip.compress(body, compresslevel=9, mtime=0),
                        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def render_demo(script_src: str, lang: str = "zh", title: str | None = None) -> str:
    """The demo host page with a widget tag pointing at ``script_src`` (all values escaped).

    Used for ``/widget/demo`` and by anyone who wants the same page on another origin. Without
    ``title`` the widget shows its own title, in the interface language.
    """
    lang = lang if lang in ("zh", "en") else "zh"
    title_attr = f' data-title="{html.escape(title, quote=True)}"' if title else ""
    page = DEMO_TEMPLATE.read_text(encoding="utf-8")
    page = page.replace("{{widget_src}}", html.escape(script_src, quote=True))
    page = page.replace("{{lang}}", lang)
    return page.replace("{{title_attr}}", title_attr)


def demo_style_hashes(page: str) -> list[str]:
    """CSP hash sources of the page's inline ``<style>`` elements."""
    return [sha256_source(body) for body in _STYLE.findall(page)]


def _etag_matches(request: Request, etag: str) -> bool:
    candidates = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in candidates.split(","))


def create_router(settings: Settings) -> APIRouter:
    """Routes ``GET /widget.js`` and ``GET /widget/demo``."""
    router = APIRouter(tags=["widget"])

    @router.get("/widget.js", include_in_schema=False)
    def script(request: Request) -> Response:
        asset = widget_script()
        headers = {
            "Cache-Control": SCRIPT_CACHE_CONTROL,
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if _etag_matches(request, asset.etag):
            return Response(status_code=304, headers=headers)
        media_type = "text/javascript; charset=utf-8"
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            return Response(asset.gzipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(asset.body, media_type=media_type, headers=headers)

    @router.get("/widget/demo", include_in_schema=False)
    def demo(lang: str = "zh") -> Response:
        page = render_demo("/widget.js", lang=lang)
        policy = content_security_policy(settings, "/widget/demo", style_hashes=demo_style_hashes(page))
        return Response(page, media_type="text/html; charset=utf-8",
                         headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"})

    return router
