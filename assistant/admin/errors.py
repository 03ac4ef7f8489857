"""The one error the administration raises: an HTTP status, a machine code and a message (Chinese,
then English); the web layer turns it into ``{"error": {"code", "message"}}``."""

from __future__ import annotations


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
