"""One FastAPI application: the HTTP API, the widget and the Gradio page."""

from __future__ import annotations

from fastapi import FastAPI

from assistant.core import Assistant
from assistant.settings import Settings


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """Build the app. The assistant (model and index) is loaded once, here, and shared."""
    from assistant.admin.services import AdminServices
    from assistant.web import api, page, security, widget
    from assistant.web.admin_api import install_admin
    from assistant.web.admin_page import create_admin_page_router
    from assistant.web.answer_log import AnswerRecorder

    assistant = assistant or Assistant.from_settings(settings)
    admin = AdminServices.open(settings)
    answers = AnswerRecorder(assistant, admin.conversations if settings.log_conversations else None)
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
    app.state.admin = admin
    install_admin(app, assistant, settings, admin)  # before the public API: its /api/… fallback
    app.include_router(api.create_router(assistant, settings, answers))
    app.include_router(widget.create_router(settings))
    app.include_router(create_admin_page_router())  # /admin, before the page mounted at /
    security.install(app, settings)
    return page.mount_page(app, assistant, settings, path="/", stream=answers.channel("page"))
