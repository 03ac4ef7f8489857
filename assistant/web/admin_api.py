"""The admin HTTP API (sign-in, documents, conversation log, statistics, audit) and feedback.

Endpoints (JSON; errors ``{"error": {"code", "message"}}``; every admin route needs a session
cookie + ``X-CSRF-Token`` on POST/DELETE, or ``Authorization: Bearer TOKEN``: see :mod:`.admin_auth`)::

    POST   /api/admin/login                      {"name", "password"} → Me + cookies (429 after failures)
    POST   /api/admin/logout                     ends the session: its cookie is useless afterwards
    GET    /api/admin/me                         who is signed in, and the session's CSRF token
    GET    /api/admin/documents?q=&sort=&order=  indexed documents and drafts
    POST   /api/admin/documents                  multipart ``files`` (one or more), ``publish`` (default true)
    GET    /api/admin/documents/{id}             an upload with its parse preview
    POST   /api/admin/documents/{id}/publish     draft → index
    POST   /api/admin/documents/{id}/unpublish   index → draft
    DELETE /api/admin/documents/{id}             out of the index, upload deleted
    POST   /api/admin/reindex                    published uploads ingested again (reconciles a killed run)
    GET    /api/admin/log?refused=&channel=&since=&until=&format=json|csv
    GET    /api/admin/stats?days=                per day, refusal rate, refused groups, slowest, 👎 with comments
    GET    /api/admin/audit                      the audit log, newest first (append-only)
    POST   /api/feedback                         public: {"answer_id", "rating": up|down, "comment"?}

This module deliberately does not use ``from __future__ import annotations``: FastAPI must see the
real classes of the request models built inside :func:`create_admin_router`.
"""

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, File, Form, Path, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from assistant.admin.conversations import CHANNELS, LogFilter
from assistant.admin.documents import SORT_KEYS, DocumentManager, Upload
from assistant.admin.errors import AdminError
from assistant.admin.services import AdminServices
from assistant.admin.uploads import UploadRejected
from assistant.core import Assistant
from assistant.settings import Settings
from assistant.web.admin_auth import Caller, SessionCookies, bearer_scheme, cookie_scheme
from assistant.web.admin_models import (
    AUTH_ERRORS,
    BAD_REQUEST,
    NOT_FOUND,
    REJECTED,
    AnswerId,
    AuditPage,
    DocumentRows,
    LoginRequest,
    LogPage,
    Me,
    Ok,
    UploadInfo,
    UploadResult,
)
from assistant.web.models import ErrorResponse
from assistant.web.security import TokenBucket, error_response

DocId = Annotated[str, Path(min_length=1, max_length=200, description="document id or upload id")]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
Cookie = Annotated[str | None, Security(cookie_scheme)]
FEEDBACK_PER_MINUTE = 10


def install_admin(app: FastAPI, assistant: Assistant, settings: Settings, services: AdminServices) -> None:
    """The admin routes and feedback on ``app``, with their error format. Include before the public
    API router: its ``/api/…`` fallback would otherwise answer first."""
    app.add_exception_handler(AdminError, _error_handler)
    app.include_router(create_admin_router(assistant, settings, services))


async def _error_handler(request: Request, exc: AdminError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _upload_info(upload: Upload) -> UploadInfo:
    data = {k: v for k, v in vars(upload).items() if k != "path"}  # the server's paths stay on the server
    return UploadInfo(**data)


def create_admin_router(assistant: Assistant, settings: Settings, services: AdminServices) -> APIRouter:
    router = APIRouter(tags=["admin"])
    cookies = SessionCookies(services, settings)

    def admin(request: Request, bearer: Bearer = None, cookie: Cookie = None) -> Caller:
        return cookies.caller(request, bearer, cookie)

    Admin = Annotated[Caller, Depends(admin)]
    _add_session_routes(router, services, settings, cookies, Admin)
    _add_document_routes(router, DocumentManager(assistant, services.store, settings), services, Admin)
    _add_log_routes(router, assistant, services, Admin)
    _add_feedback_route(router, services, settings)
    return router


def _add_session_routes(router: APIRouter, services: AdminServices, settings: Settings,
                        cookies: SessionCookies, Admin: Any) -> None:
    accounts, audit, throttle = services.accounts, services.audit, services.throttle

    @router.post("/api/admin/login", response_model=Me, summary="Sign in / 登录",
                 responses={**BAD_REQUEST, 401: {"model": ErrorResponse, "description": "wrong name or password"},
                            429: {"model": ErrorResponse, "description": "too many failures: wait Retry-After"}})
    async def login(body: LoginRequest, request: Request) -> Any:
        keys = [f"name:{body.name}", f"client:{_client(request)}"]
        wait = throttle.wait(keys)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise AdminError(429, "sign_in_locked", f"登录失败次数过多，请 {retry} 秒后再试。/ Too many failed "
                                                  f"sign-ins; try again in {retry} s.", {"Retry-After": str(retry)})
        if not await anyio.to_thread.run_sync(accounts.check_password, body.name, body.password):
            throttle.failed(keys)
            audit.record(body.name, "sign_in_failed")
            raise AdminError(401, "bad_credentials", "账户名或密码错误。/ Wrong name or password.")
        throttle.succeeded(keys)
        session_id, session = accounts.open_session(body.name, settings.admin_session_hours)
        audit.record(body.name, "sign_in")
        response = JSONResponse(Me(name=body.name, via="session", csrf_token=session.csrf,
                                   expires_at=session.expires_at).model_dump())
        cookies.set(response, request, session_id, session.csrf)
        return response

    @router.post("/api/admin/logout", response_model=Ok, responses=AUTH_ERRORS, summary="Sign out / 退出")
    def logout(caller: Admin, cookie: Cookie = None) -> Any:
        session_id = cookies.session_id(cookie)
        if caller.via == "session" and session_id:
            accounts.close_session(session_id)
            audit.record(caller.name, "sign_out")
        response = JSONResponse(Ok().model_dump())
        cookies.clear(response)
        return response

    @router.get("/api/admin/me", response_model=Me, responses=AUTH_ERRORS, summary="Who am I / 当前账户")
    def me(caller: Admin) -> Me:
        return Me(name=caller.name, via=caller.via, csrf_token=caller.csrf, expires_at=caller.expires_at)


def _add_document_routes(router: APIRouter, documents: DocumentManager, services: AdminServices,
                         Admin: Any) -> None:
    audit = services.audit
    _add_upload_route(router, documents, services, Admin)

    @router.get("/api/admin/documents", response_model=DocumentRows, responses=AUTH_ERRORS,
                summary="List documents / 文档管理列表")
    def list_documents(caller: Admin,
                       q: Annotated[str | None, Query(max_length=200, description="part of the title, "
                                                      "number, issuer, id or file name")] = None,
                       sort: Annotated[Literal[SORT_KEYS], Query()] = "published_at",  # type: ignore[valid-type]
                       order: Annotated[Literal["asc", "desc"], Query()] = "desc") -> DocumentRows:
        return DocumentRows(documents=documents.listing(q, sort, order == "desc"))

    @router.get("/api/admin/documents/{doc_id}", response_model=UploadInfo, responses={**AUTH_ERRORS, **NOT_FOUND},
                summary="One upload with its preview / 上传文档预览")
    def one_upload(caller: Admin, doc_id: DocId) -> Any:
        upload = documents.find_upload(doc_id)
        if upload is None:
            raise AdminError(404, "upload_not_found", f"没有上传的文档“{doc_id}”。/ No uploaded document '{doc_id}'.")
        return _upload_info(upload)

    @router.post("/api/admin/documents/{doc_id}/publish", response_model=UploadInfo,
                 responses={**AUTH_ERRORS, **NOT_FOUND, **REJECTED}, summary="Publish / 发布")
    async def publish_document(caller: Admin, doc_id: DocId) -> Any:
        upload = await anyio.to_thread.run_sync(documents.publish, doc_id, caller.name)
        audit.record(caller.name, "publish", upload.doc_id, upload.filename)
        return _upload_info(upload)

    @router.post("/api/admin/documents/{doc_id}/unpublish", response_model=UploadInfo,
                 responses={**AUTH_ERRORS, **NOT_FOUND}, summary="Unpublish / 撤回")
    async def unpublish_document(caller: Admin, doc_id: DocId) -> Any:
        upload = await anyio.to_thread.run_sync(documents.unpublish, doc_id)
        audit.record(caller.name, "unpublish", upload.doc_id, upload.filename)
        return _upload_info(upload)

    @router.delete("/api/admin/documents/{doc_id}", response_model=Ok, responses={**AUTH_ERRORS, **NOT_FOUND},
                   summary="Delete / 删除")
    async def delete_document(caller: Admin, doc_id: DocId) -> Any:
        deleted = await anyio.to_thread.run_sync(documents.delete, doc_id)
        audit.record(caller.name, "delete", deleted)
        return Ok(detail={"deleted": deleted})

    @router.post("/api/admin/reindex", response_model=Ok, responses=AUTH_ERRORS, summary="Re-index / 重建索引")
    async def reindex(caller: Admin) -> Any:
        report = await anyio.to_thread.run_sync(documents.reindex)
        audit.record(caller.name, "reindex", detail=str(report["documents"]))
        return Ok(detail=report)


def _add_upload_route(router: APIRouter, documents: DocumentManager, services: AdminServices, Admin: Any) -> None:
    audit, limit = services.audit, documents.settings.admin_max_upload_bytes
    max_files = documents.settings.admin_max_upload_files

    @router.post("/api/admin/documents", response_model=UploadResult, status_code=201,
                 responses={**AUTH_ERRORS, **REJECTED}, summary="Upload / 上传文档",
                 description="One or more files (txt, md, html, docx, pdf). Every file is checked first; one "
                             "refused file refuses the request and nothing is stored. `publish=false` keeps "
                             "them as drafts with their parse preview.")
    async def upload(caller: Admin,
                     files: Annotated[list[UploadFile], File(description="the files")],
                     publish: Annotated[bool, Form(description="index at once (else drafts)")] = True) -> Any:
        if len(files) > max_files:
            raise UploadRejected("", "too_many_files", f"一次最多上传 {max_files} 个文件（收到 {len(files)} 个）。/ "
                                                       f"At most {max_files} files per upload (got {len(files)}).")
        received = [(f.filename or "", await f.read(limit + 1)) for f in files]
        uploads = await anyio.to_thread.run_sync(documents.upload, received, caller.name, publish)
        for u in uploads:
            audit.record(caller.name, "upload", u.doc_id, u.filename)
            if u.status == "published":
                audit.record(caller.name, "publish", u.doc_id, u.filename)
        return UploadResult(uploads=[_upload_info(u) for u in uploads])


def _epoch(day: str | None) -> float | None:
    """``YYYY-MM-DD`` → the epoch second it starts (UTC); a date that does not exist is a 422."""
    if day is None:
        return None
    try:
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise AdminError(422, "invalid_date", f"日期“{day}”不存在，请用 YYYY-MM-DD。/ '{day}' is not a date "
                                            "(YYYY-MM-DD).") from None


def _add_log_routes(router: APIRouter, assistant: Assistant, services: AdminServices, Admin: Any) -> None:
    conversations, audit = services.conversations, services.audit

    @router.get("/api/admin/log", response_model=LogPage, summary="Conversation log / 问答日志",
                responses={**AUTH_ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                                "description": "the rows (JSON), or CSV with format=csv"},
                           422: {"model": ErrorResponse, "description": "invalid filter"}},
                description="Newest first. `format=csv` returns the matching rows (up to 100,000) as CSV.")
    def conversation_log(
        caller: Admin,
        refused: Annotated[bool | None, Query(description="only refused (true) or answered (false)")] = None,
        channel: Annotated[Literal[CHANNELS] | None, Query()] = None,  # type: ignore[valid-type]
        since: Annotated[str | None, Query(max_length=10, json_schema_extra={"format": "date"},
                                           description="from this day (UTC, YYYY-MM-DD), inclusive")] = None,
        until: Annotated[str | None, Query(max_length=10, json_schema_extra={"format": "date"},
                                           description="to this day (UTC, YYYY-MM-DD), inclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        format: Annotated[Literal["json", "csv"], Query()] = "json",
    ) -> Any:
        end = _epoch(until)
        where = LogFilter(refused, channel, _epoch(since), None if end is None else end + 86400)
        if format == "csv":
            return Response(conversations.csv(where), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="conversation-log.csv"'})
        total, rows = conversations.rows(where, limit, offset)
        return LogPage(total=total, rows=rows)

    @router.get("/api/admin/stats", responses=AUTH_ERRORS, summary="Statistics / 统计",
                description="Questions per day, refusal rate, refused questions grouped by shared content "
                            "words (the top gaps), the slowest answers and 👎 with comments.")
    def stats(caller: Admin, days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict[str, Any]:
        return conversations.stats(assistant.lexicon.tokenize, days=days)

    @router.get("/api/admin/audit", response_model=AuditPage, responses=AUTH_ERRORS, summary="Audit log / 审计日志")
    def audit_log(caller: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AuditPage:
        return AuditPage(entries=[e.as_dict() for e in audit.entries(limit, offset)])


def _add_feedback_route(router: APIRouter, services: AdminServices, settings: Settings) -> None:
    buckets = TokenBucket(FEEDBACK_PER_MINUTE)

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        answer_id: Annotated[str, AnswerId]
        rating: Literal["up", "down"]
        comment: str = Field("", max_length=settings.feedback_max_chars, description="optional, plain text")

    @router.post("/api/feedback", response_model=Ok, tags=["chat"], summary="Rate an answer / 评价回答",
                 responses={**BAD_REQUEST, 404: {"model": ErrorResponse, "description": "unknown (or purged) answer_id"},
                            422: {"model": ErrorResponse, "description": "invalid rating or comment too long"},
                            429: {"model": ErrorResponse, "description": "rate limit; see Retry-After"}})
    def feedback(body: FeedbackRequest, request: Request) -> Any:
        wait = buckets.take(_client(request))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise AdminError(429, "rate_limited", f"评价太频繁，请 {retry} 秒后再试。/ Too much feedback; retry in "
                                                f"{retry} s.", {"Retry-After": str(retry)})
        if not services.conversations.feedback(body.answer_id, body.rating, body.comment.strip()):
            raise AdminError(404, "answer_not_found", "没有找到这条回答（可能已过保留期）。/ No such answer "
                                                    "(it may be past the retention period).")
        return Ok()
