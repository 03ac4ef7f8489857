"""Validation errors as one polite sentence that states the limit (Chinese, then English)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _question_or_history(kind: str, field: str, loc: tuple, limit: Any) -> dict[str, Any] | None:
    """The wording for the chat fields (question, history), or None for any other field."""
    if field in ("question", "q"):
        if kind == "string_too_long":
            return {"code": "question_too_long", "field": field, "limit": limit,
                    "message": f"问题太长了：最多 {limit} 个字符，请精简后再问。/ "
                               f"The question is too long: at most {limit} characters."}
        if kind in ("missing", "string_too_short"):
            return {"code": "empty_question", "field": field,
                    "message": "请输入您的问题。/ Please type a question."}
    if field == "history" and kind == "too_long":
        return {"code": "history_too_long", "field": field, "limit": limit,
                "message": f"对话历史太长：最多 {limit} 条，请清空对话后再问。/ "
                           f"The conversation history is too long: at most {limit} messages."}
    if len(loc) >= 3 and loc[1] == "history":
        position = int(loc[2]) + 1 if str(loc[2]).isdigit() else loc[2]
        if kind == "string_too_long":
            return {"code": "history_message_too_long", "field": field, "limit": limit,
                    "message": f"对话历史第 {position} 条太长：最多 {limit} 个字符。/ "
                               f"History message {position} is too long: at most {limit} characters."}
        return {"code": "bad_history", "field": field,
                "message": f"对话历史第 {position} 条格式不正确（role 为 user 或 assistant，content 为文字）。/ "
                           f"History message {position} is malformed (role must be user or assistant, "
                           f"content text)."}
    return None


def _any_field(error: dict[str, Any], kind: str, field: str, name: str, ctx: dict, limit: Any) -> dict[str, Any]:
    if kind == "extra_forbidden":
        return {"code": "unknown_field", "field": field,
                "message": f"不支持的字段：{field}。/ Unknown field: {field}."}
    if kind in ("too_long", "string_too_long") and limit is not None:
        return {"code": "too_long", "field": field, "limit": limit,
                "message": f"{name} 太长：最多 {limit}。/ {name} is too long: at most {limit}."}
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        low, high = ctx.get("ge", ctx.get("gt")), ctx.get("le", ctx.get("lt"))
        bound = f"≤ {high}" if high is not None else f"≥ {low}"
        return {"code": "out_of_range", "field": field, "limit": high if high is not None else low,
                "message": f"参数 {name} 超出范围（应 {bound}）。/ Parameter {name} is out of range (must be {bound})."}
    if kind == "missing":
        return {"code": "missing_field", "field": field,
                "message": f"缺少字段：{field}。/ Missing field: {field}."}
    return {"code": "invalid_request", "field": field,
            "message": f"请求格式不正确：{field}。/ The request is malformed: {field} ({error.get('msg', kind)})."}


def explain_validation_error(errors: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The first validation error as ``{"code", "message", "field", "limit"}`` in zh and en."""
    errors = list(errors)
    if not errors:
        return {"code": "invalid_request", "message": "请求格式不正确。/ The request is malformed."}
    error = errors[0]
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    field = _field_name(loc)
    limit = ctx.get("max_length", ctx.get("le", ctx.get("lt")))
    if kind == "json_invalid":
        return {"code": "invalid_json", "message": "请求内容不是有效的 JSON。/ The request body is not valid JSON."}
    explained = _question_or_history(kind, field, loc, limit)
    if explained is not None:
        return explained
    return _any_field(error, kind, field, str(loc[-1]) if loc else "", ctx, limit)
