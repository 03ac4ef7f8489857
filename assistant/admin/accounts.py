"""Administrator accounts, API tokens and sign-in sessions.

* Passwords are stored as argon2id hashes (``argon2-cffi``'s defaults, rehashed when they change).
* A token is ``ra_<id>_<secret>``: the id finds the row, the secret is compared with its SHA-256
  (a 256-bit random secret needs no slow hash); printed once, revocable by id or by account.
* A session is a random id whose SHA-256 is stored with its expiry and its CSRF token: the cookie
  carries the id (signed, see :mod:`.sessions`), so signing out deletes the row and the cookie is
  worth nothing afterwards, even before it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant.admin.store import AdminStore, now

NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD_CHARS = 10
TOKEN = re.compile(r"^ra_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})$")

_hasher = PasswordHasher()
# Verifying against this when the account does not exist costs the same time as a real check,
# so the answer's timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A bad name or password for a new account, or an unknown account (message: Chinese / English)."""


@dataclass(frozen=True)
class Session:
    name: str
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    name: str
    created_at: float
    revoked_at: float | None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Accounts:
    def __init__(self, store: AdminStore):
        self.store = store

    # ---- accounts ----------------------------------------------------------------------------
    def add(self, name: str, password: str) -> None:
        if not NAME.match(name):
            raise AccountError("账户名只能包含字母、数字、汉字和 _ . -（最多 64 个）/ "
                               "a name is letters, digits, CJK and _ . - (at most 64)")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符 / the password needs at least "
                               f"{MIN_PASSWORD_CHARS} characters")
        if self.exists(name):
            raise AccountError(f"账户“{name}”已存在 / the account '{name}' exists")
        self.store.execute("INSERT INTO accounts (name, password_hash, created_at) VALUES (?, ?, ?)",
                           (name, _hasher.hash(password), now()))

    def exists(self, name: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM accounts WHERE name = ?", (name,)))

    def names(self) -> list[tuple[str, float, int]]:
        """``(name, created_at, active tokens)`` for every account."""
        return self.store.query(
            "SELECT a.name, a.created_at, (SELECT COUNT(*) FROM tokens t WHERE t.name = a.name "
            "AND t.revoked_at IS NULL) FROM accounts a ORDER BY a.name")

    def check_password(self, name: str, password: str) -> bool:
        rows = self.store.query("SELECT password_hash FROM accounts WHERE name = ?", (name,))
        stored = rows[0][0] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        if not rows:
            return False
        if _hasher.check_needs_rehash(stored):
            self.store.execute("UPDATE accounts SET password_hash = ? WHERE name = ?",
                               (_hasher.hash(password), name))
        return True

    # ---- tokens ------------------------------------------------------------------------------
    def new_token(self, name: str) -> tuple[str, str]:
        """``(token_id, token)``; the token is shown once and only its hash is kept."""
        if not self.exists(name):
            raise AccountError(f"没有账户“{name}” / no account '{name}'")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        self.store.execute("INSERT INTO tokens (token_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)",
                           (token_id, name, _sha256(secret), now()))
        return token_id, f"ra_{token_id}_{secret}"

    def token_owner(self, token: str) -> str | None:
        """The account a valid, unrevoked token belongs to."""
        match = TOKEN.match(token)
        if not match:
            return None
        rows = self.store.query("SELECT name, secret_hash FROM tokens WHERE token_id = ? AND revoked_at IS NULL",
                                (match.group(1),))
        if rows and hmac.compare_digest(rows[0][1], _sha256(match.group(2))):
            return rows[0][0]
        return None

    def revoke(self, token_id_or_name: str) -> list[str]:
        """Revoke one token (by id) or every token of an account (by name); returns the ids revoked."""
        with self.store.transaction() as con:
            ids = [r[0] for r in con.execute(
                "SELECT token_id FROM tokens WHERE (token_id = ? OR name = ?) AND revoked_at IS NULL",
                (token_id_or_name, token_id_or_name))]
            con.executemany("UPDATE tokens SET revoked_at = ? WHERE token_id = ?", [(now(), i) for i in ids])
        return ids

    def tokens(self) -> list[TokenInfo]:
        return [TokenInfo(*r) for r in self.store.query(
            "SELECT token_id, name, created_at, revoked_at FROM tokens ORDER BY created_at")]

    # ---- sessions ----------------------------------------------------------------------------
    def open_session(self, name: str, hours: float) -> tuple[str, Session]:
        """A new session: ``(session id for the cookie, Session)``; expired sessions are dropped."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = Session(name, csrf, now() + hours * 3600)
        with self.store.transaction() as con:
            con.execute("DELETE FROM sessions WHERE expires_at < ?", (now(),))
            con.execute("INSERT INTO sessions (session_hash, name, csrf, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?, ?)", (_sha256(session_id), name, csrf, now(), session.expires_at))
        return session_id, session

    def session(self, session_id: str) -> Session | None:
        rows = self.store.query("SELECT name, csrf, expires_at FROM sessions WHERE session_hash = ?",
                                (_sha256(session_id),))
        if not rows or rows[0][2] < now():
            return None
        return Session(*rows[0])

    def close_session(self, session_id: str) -> None:
        self.store.execute("DELETE FROM sessions WHERE session_hash = ?", (_sha256(session_id),))
