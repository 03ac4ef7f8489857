"""Who is calling an admin route: a signed session cookie (with a CSRF header on every
state-changing request) or an ``Authorization: Bearer`` token (scripts; no CSRF, since a browser
never adds it by itself). No session and no token: 401; a session without its CSRF token: 403.

Cookies: the session cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the request came
over HTTPS and ``Max-Age`` the session's lifetime. Its value is the session id signed with
``itsdangerous`` (a forged or altered cookie is rejected before the database is asked); the
server keeps the session, so signing out makes the cookie useless at once. HTTPS is what the
request's scheme says: behind a reverse proxy that is ``X-Forwarded-Proto`` as far as uvicorn
trusts the proxy (``--forwarded-allow-ips``, default 127.0.0.1) — the app itself trusts no header.
The CSRF token is also set as a readable cookie (``assistant_csrf``) for the admin page's script
to echo in ``X-CSRF-Token`` (double submit); the server compares it with the session's own.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, TimestampSigner

from assistant.admin.errors import AdminError
from assistant.admin.services import AdminServices
from assistant.settings import Settings

SESSION_COOKIE = "assistant_admin"
CSRF_COOKIE = "assistant_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="an API token from `assistant admin token NAME`")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                             description="the session cookie set by POST /api/admin/login; state-changing "
                                         f"requests also send its CSRF token in {CSRF_HEADER}")


@dataclass(frozen=True)
class Caller:
    name: str
    via: str  # "session" | "token"
    csrf: str = ""
    expires_at: float | None = None


class SessionCookies:
    def __init__(self, services: AdminServices, settings: Settings):
        self.services = services
        self.hours = settings.admin_session_hours
        self.signer = TimestampSigner(services.secret_key, salt="assistant-admin-session")

    def set(self, response: Response, request: Request, session_id: str, csrf: str) -> None:
        secure = request.url.scheme == "https"
        max_age = int(self.hours * 3600)
        response.set_cookie(SESSION_COOKIE, self.signer.sign(session_id).decode(), max_age=max_age, path="/",
                            httponly=True, secure=secure, samesite="strict")
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", httponly=False, secure=secure,
                            samesite="strict")

    @staticmethod
    def clear(response: Response) -> None:
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", samesite="strict")

    def session_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie, max_age=int(self.hours * 3600)).decode()
        except BadSignature:  # also SignatureExpired
            return None

    def caller(self, request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None) -> Caller:
        """The signed-in caller, or AdminError (401 no/invalid credentials, 403 no CSRF token)."""
        accounts = self.services.accounts
        if bearer is not None:
            name = accounts.token_owner(bearer.credentials)
            if name is None:
                raise AdminError(401, "invalid_token", "令牌无效或已撤销。/ The token is invalid or revoked.")
            return Caller(name, "token")
        session_id = self.session_id(cookie)
        session = accounts.session(session_id) if session_id else None
        if session is None:
            raise AdminError(401, "not_signed_in", "请先登录管理后台。/ Please sign in to the admin area.")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, session.csrf):
                raise AdminError(403, "csrf_failed", f"缺少或错误的 CSRF 令牌（请求头 {CSRF_HEADER}）。/ "
                                                    f"Missing or wrong CSRF token ({CSRF_HEADER} header).")
        return Caller(session.name, "session", session.csrf, session.expires_at)
