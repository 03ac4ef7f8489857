"""The JSON error format shared by every API error: ``{"error": {"code", "message", …}}``.

Messages are one polite sentence, Chinese first, then English. The handlers cover validation
errors (a 422 that states the limit), HTTP errors and anything unexpected (a 500, logged, no
traceback sent).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.web.security.validation import explain_validation_error

log = logging.getLogger(__name__)

GENERIC_ERROR = "抱歉，服务暂时出现问题，请稍后再试。/ Sorry, something went wrong on our side. Please try again later."

HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确。/ The request is malformed."),
    403: ("forbidden", "无权访问。/ Access is not allowed."),
    404: ("not_found", "没有找到该地址。/ Nothing was found at this address."),
    405: ("method_not_allowed", "不支持该请求方法。/ This method is not allowed here."),
    413: ("body_too_large", "请求内容太大。/ The request body is too large."),
    415: ("unsupported_media_type", "请以 JSON 格式提交。/ Please send JSON."),
    429: ("rate_limited", "请求太频繁，请稍后再试。/ Too many requests; please try again later."),
}


def error_payload(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", …}}`` — extra keys (``limit``, ``field``) only when set."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse(error_payload(code, message, **extra), status_code=status, headers=headers)


def body_too_large_message(limit: int) -> str:
    return (f"请求内容太大：最多 {limit} 字节。请缩短问题或清空对话后再试。/ "
            f"The request body is too large: at most {limit} bytes. Shorten the question or clear the conversation.")


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An ``HTTPException`` on purpose: FastAPI turns any other exception raised while it reads a
    body into a 400, but re-raises HTTP exceptions, so this one reaches the 413 handler.
    """

    def __init__(self, limit: int):
        super().__init__(413, body_too_large_message(limit))
        self.limit = limit


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    explained = explain_validation_error(exc.errors())
    return error_response(422, explained.pop("code"), explained.pop("message"), **explained)


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, message = HTTP_ERRORS.get(exc.status_code, ("http_error", GENERIC_ERROR))
    extra: dict[str, Any] = {}
    if isinstance(exc, BodyTooLarge):
        message, extra = exc.detail, {"limit": exc.limit}
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None), **extra)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", GENERIC_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """The JSON error format for validation errors, HTTP errors and anything unexpected."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
