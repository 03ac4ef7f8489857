"""The API's request and response models, with this deployment's limits built into the request.

The request models are built per deployment (:func:`request_models`): the question's length and
the history policy (:class:`~assistant.history.HistoryPolicy`) are part of them, so they are
validated before the assistant runs and documented in the OpenAPI schema.

This module deliberately does not use ``from __future__ import annotations``: the request models
are built inside a function, and pydantic and FastAPI must see the real classes, not strings.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.history import HistoryPolicy
from assistant.schema import Citation
from assistant.settings import Settings
from assistant.text import detect_language

MAX_FILTER_DOCS = 50


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable reason, e.g. question_too_long, rate_limited")
    message: str = Field(description="a polite sentence in Chinese, then English")
    limit: int | None = Field(None, description="the limit that was exceeded, when there is one")


class ErrorResponse(BaseModel):
    error: ErrorBody

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "code": "question_too_long",
        "message": "问题太长了：最多 1000 个字符，请精简后再问。/ The question is too long: at most 1000 characters.",
        "limit": 1000}}]})


#: The document criteria shared by the chat filters, /api/search and /api/documents.
ISSUER = "part of the issuing office's name, e.g. 德阳 / 发文单位（部分名称即可）"
KIND = "人大代表建议 or 政协提案 (建议, 提案, suggestion, proposal also match) / 答复类型"
YEAR = "the year of the reply's date / 答复年份"
NUMBER = "a suggestion number in any spelling: 第32号, 32, 0032 / 建议提案编号"
MIN_YEAR, MAX_YEAR = 1949, 2100


class ChatFilters(BaseModel):
    """Restricts retrieval; every field is optional and those given must all hold. Filters that
    leave no document are refused (the answer says so) rather than ignored."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=MAX_FILTER_DOCS, description="only these documents (ids from /api/documents)")
    suggestion_no: str | None = Field(None, max_length=50, description=NUMBER)
    issuer: str | None = Field(None, min_length=1, max_length=100, description=ISSUER)
    kind: str | None = Field(None, min_length=1, max_length=20, description=KIND)
    year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR, description=YEAR)


class SearchResponse(BaseModel):
    query: str
    results: list[Citation] = Field(description="sections in rank order, best first; marker = rank")


class DocumentSummary(BaseModel):
    doc_id: str
    title: str = ""
    suggestion_no: str = ""
    session: str = ""
    proposer: str = ""
    units: str = ""
    chunks: int = 0
    source: str = Field("", description="the file name or URL the document was read from")
    issuer: str = Field("", description="the office that wrote the reply")
    doc_kind: str = Field("", description="人大代表建议, 政协提案, or empty")
    date: str = Field("", description="signing (else publication) date, YYYY-MM-DD; empty if the reply has none")
    header: dict[str, Any] = Field(default_factory=dict, description="every fact the header and closing state "
                                   "(proposers, 办理结果, 文号, contact, 抄送 …); empty values when not stated")


class DocumentSection(BaseModel):
    chunk_id: str
    section: str = Field("", description="section path such as 一、(二) 二是; empty for the document card")
    kind: str = "section"
    text: str
    start: int = 0
    end: int = 0


class DocumentDetail(DocumentSummary):
    sections: list[DocumentSection]


class DocumentList(BaseModel):
    documents: list[DocumentSummary] = Field(description="newest first; undated last, then by title")


class ClientConfig(BaseModel):
    """The limits a client trims to before sending (the server refuses what exceeds them), and the
    example questions a client offers."""

    max_question_chars: int = Field(description="the longest question, in characters")
    max_history_messages: int = Field(description="earlier messages a question may carry (the latest)")
    max_history_message_chars: int = Field(description="each earlier message, in characters (cut the rest)")
    max_body_bytes: int = Field(description="the largest request body in bytes; 0 for no limit")
    examples: list[str] = Field(description="example questions about the indexed replies, to offer as chips")

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClientConfig":
        policy = HistoryPolicy.from_settings(settings)
        return cls(max_question_chars=settings.max_question_chars, max_history_messages=policy.max_messages,
                   max_history_message_chars=policy.max_message_chars, max_body_bytes=settings.max_body_bytes,
                   examples=settings.examples())


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool] = Field(default_factory=dict)
    documents: int = 0
    chunks: int = 0
    message: str = ""


def chat_examples(settings: Settings) -> dict[str, dict[str, Any]]:
    """The chat body's OpenAPI examples, made of this deployment's example questions
    (``Settings.examples()``): the first Chinese and the first English one, a follow-up and a filter."""
    questions = settings.examples() or ["这份答复提出了哪些措施？"]
    zh = next((q for q in questions if detect_language(q) == "zh"), questions[0])
    en = next((q for q in questions if detect_language(q) == "en"), "What measures does the reply list?")
    return {
        "zh": {"summary": "中文提问", "value": {"question": zh, "history": []}},
        "en": {"summary": "English question", "value": {"question": en}},
        "follow_up": {
            "summary": "追问（带对话历史）/ follow-up with history",
            "value": {"question": "第二条具体怎么做？", "history": [
                {"role": "user", "content": zh},
                {"role": "assistant", "content": "- ……[1]\n- ……[2]"}]},
        },
        "filtered": {
            "summary": "限定答复类型 / restricted to one kind of reply",
            "value": {"question": zh, "filters": {"kind": "政协提案"}},
        },
    }


def request_models(settings: Settings) -> tuple[type[BaseModel], type[BaseModel]]:
    """``(HistoryMessage, ChatRequest)`` with this deployment's limits built in."""
    policy = HistoryPolicy.from_settings(settings)

    class HistoryMessage(BaseModel):
        """One earlier message of the conversation, oldest first."""

        model_config = ConfigDict(extra="forbid")

        role: Literal["user", "assistant"]
        content: str = Field(max_length=policy.max_message_chars)

    class ChatRequest(BaseModel):
        """A question, the conversation so far (the API keeps no state) and optional filters."""

        model_config = ConfigDict(extra="forbid")

        question: str = Field(min_length=1, max_length=settings.max_question_chars,
                              description="the question, in Chinese or English")
        history: list[HistoryMessage] = Field(
            default_factory=list, max_length=policy.max_messages,
            description=f"earlier messages, oldest first; at most {policy.max_messages}")
        filters: ChatFilters | None = None

    return HistoryMessage, ChatRequest


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "a malformed request (a body that cannot be read, a bad "
                                                 "Content-Length)"},
    413: {"model": ErrorResponse, "description": "the request body is larger than max_body_bytes"},
    422: {"model": ErrorResponse, "description": "invalid question or history; the message states the limit"},
    429: {"model": ErrorResponse, "description": "rate limit; see Retry-After"},
    503: {"model": ErrorResponse, "description": "the index or the vector store is not available"},
    500: {"model": ErrorResponse, "description": "unexpected error (logged; no details sent)"},
}
