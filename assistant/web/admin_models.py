"""Request and response models of the admin API and of feedback (documented in the OpenAPI schema)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.web.models import ErrorResponse

AnswerId = Field(pattern=r"^[0-9a-f]{24}$", description="the answer_id of an Answer or of a stream's done event")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    name: str
    via: Literal["session", "token"]
    csrf_token: str = Field("", description="send it as X-CSRF-Token on every POST/DELETE of this session")
    expires_at: float | None = Field(None, description="when the session ends (epoch seconds)")


class Ok(BaseModel):
    ok: bool = True
    detail: dict[str, Any] = Field(default_factory=dict)


class DocumentRow(BaseModel):
    doc_id: str
    status: Literal["published", "draft"]
    title: str = ""
    suggestion_no: str = ""
    issuer: str = ""
    doc_kind: str = ""
    date: str = ""
    sections: int = Field(0, description="indexed sections (published) or top-level sections (draft)")
    upload_id: str | None = None
    filename: str = ""
    uploaded_by: str = ""
    published_by: str = ""
    published_at: float | None = None


class DocumentRows(BaseModel):
    documents: list[DocumentRow]


class UploadInfo(BaseModel):
    upload_id: str
    filename: str
    doc_id: str
    status: Literal["published", "draft"]
    uploaded_by: str
    uploaded_at: float
    published_by: str = ""
    published_at: float | None = None
    preview: dict[str, Any] = Field(description="header fields, the section tree (label, heading, path, chars, "
                                    "children) and warnings (code, message): what the assistant will cite")


class UploadResult(BaseModel):
    uploads: list[UploadInfo]


class FeedbackEntry(BaseModel):
    at: float
    rating: Literal["up", "down"]
    comment: str = ""


class LogRow(BaseModel):
    answer_id: str
    at: float
    channel: str
    question: str
    standalone: str = ""
    answer: str = ""
    refused: bool
    reason: str = ""
    cited: list[str] = Field(default_factory=list)
    latency_ms: float
    feedback: list[FeedbackEntry] = Field(default_factory=list)


class LogPage(BaseModel):
    total: int
    rows: list[LogRow]


class AuditRow(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target: str = ""
    detail: str = ""


class AuditPage(BaseModel):
    entries: list[AuditRow]


BAD_REQUEST = {400: {"model": ErrorResponse, "description": "a malformed request (a body that cannot be read)"}}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    **BAD_REQUEST,
    401: {"model": ErrorResponse, "description": "not signed in, or the token is invalid/revoked"},
    403: {"model": ErrorResponse, "description": "a session without its CSRF token (X-CSRF-Token)"},
    429: {"model": ErrorResponse, "description": "rate limit; see Retry-After"},
}
NOT_FOUND = {404: {"model": ErrorResponse, "description": "no such document or upload"}}
REJECTED = {**BAD_REQUEST, 400: {"model": ErrorResponse, "description": "a file refused (name, type, size, zip bomb, macros, "
                  "encryption, no text): nothing was stored"},
            413: {"model": ErrorResponse, "description": "the request body is too large"},
            422: {"model": ErrorResponse, "description": "invalid parameters, or the file could not be indexed"}}
