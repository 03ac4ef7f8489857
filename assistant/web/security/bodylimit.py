"""The body limit: ``settings.max_body_bytes`` on every request body → 413.

Checked on ``Content-Length`` and again while the body streams in (chunked uploads have no length).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings
from assistant.web.security.errors import BodyTooLarge, body_too_large_message, error_response

#: Where administrators upload documents: the files' own limits, plus room for the multipart framing.
UPLOAD_PATH = "/api/admin/documents"


class BodyLimitMiddleware:
    """``settings.max_body_bytes`` on every request body → 413 (uploads: as many files as allowed)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.default_limit = settings.max_body_bytes
        self.upload_limit = settings.admin_max_upload_bytes * settings.admin_max_upload_files + 64 * 1024

    def _too_large(self, limit: int):
        return error_response(413, "body_too_large", body_too_large_message(limit), limit=limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upload = scope["type"] == "http" and scope.get("path") == UPLOAD_PATH and scope.get("method") == "POST"
        limit = self.upload_limit if upload else self.default_limit
        if scope["type"] != "http" or limit <= 0:
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await error_response(400, "bad_content_length", "Content-Length 无效。/ Invalid Content-Length.")(
                    scope, receive, send)
                return
            if int(length) > limit:
                await self._too_large(limit)(scope, receive, send)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
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
            await self._too_large(limit)(scope, receive, send)
