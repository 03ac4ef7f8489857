"""The admin screen at ``/admin``: one server-rendered HTML shell and a vanilla script over the admin API.

Why not a Gradio Blocks: the public page's policy has to allow ``'unsafe-eval'`` and inline styles
for Gradio. The admin screen shows what strangers wrote (document titles, citizens' questions and
comments), so it gets the strictest policy the browser offers instead: scripts and styles from
``/admin/static/`` only — no inline code, no eval — and it can never be framed. Its script builds
every element with DOM calls and ``textContent`` (never ``innerHTML``), so an ``<img onerror>`` in
a title is shown as text; the policy is the second line of defence.

All data comes from the JSON admin API (:mod:`.admin_api`) with the session cookie and the
``X-CSRF-Token`` header; this module serves only static files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}

#: Nothing inline, nothing from elsewhere, no framing; ``connect-src 'self'`` for the admin API.
ADMIN_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
             "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": ADMIN_CSP, "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def create_admin_page_router() -> APIRouter:
    """``GET /admin`` (the shell) and ``GET /admin/static/{admin.js,admin.css}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/admin")
    def shell() -> Response:
        return Response((STATIC_DIR / "admin.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers=HEADERS)

    @router.get("/admin/")
    def slash() -> Response:
        return RedirectResponse("/admin", status_code=308)

    @router.get("/admin/static/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:  # a fixed list: no path from the request reaches the file system
            raise HTTPException(404)
        return Response((STATIC_DIR / name).read_bytes(), media_type=ASSETS[name], headers=HEADERS)

    return router
