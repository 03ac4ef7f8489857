"""One FastAPI application: the HTTP API, the widget and the Gradio page."""

from __future__ import annotations

from fastapi import FastAPI

from assistant.core import Assistant
from assistant.settings import Settings


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """Build the app. The assistant (model and index) is loaded once, here, and shared."""
    from assistant.web import api, page, security, widget

    assistant = assistant or Assistant.from_settings(settings)
    app = FastAPI(
        title="建议提案答复智能问答 / Reply Assistant API",
        description="Answers questions from government reply documents with section citations.",
        version="0.1.0",
        # FastAPI's /docs and /redoc load their scripts from a CDN: offline they are blank pages.
        # The API reference is served by the router at /api/docs instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.assistant = assistant
    app.state.settings = settings
    app.include_router(api.create_router(assistant, settings))
    app.include_router(widget.create_router(settings))
    security.install(app, settings)
    return page.mount_page(app, assistant, settings, path="/")
