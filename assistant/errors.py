"""What can go wrong while answering, as every surface (CLI, page, API, widget) reports it to people."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = ("检索服务暂时不可用（向量库无法连接），请稍后再试。/ "
                       "The search service is temporarily unavailable (the vector store cannot be reached); "
                       "please try again shortly.")


class QuestionError(ValueError):
    """The question (or its history) cannot be answered as given; ``message`` says why, politely."""

    def __init__(self, message: str, code: str = "invalid_question", limit: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.limit = limit


class ServiceUnavailable(RuntimeError):
    """A dependency (the index, the Chroma server) is not available right now.

    ``message`` is safe to show to anyone; ``detail`` (addresses, exception text) goes to the log only.
    """

    def __init__(self, detail: str, message: str = UNAVAILABLE_MESSAGE):
        super().__init__(detail)
        self.message = message
        self.detail = detail
        log.warning("service unavailable: %s", detail)
