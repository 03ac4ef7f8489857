"""The audit log of administrators' actions: append-only (the database refuses edits, see
:mod:`.store`), read newest first."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from assistant.admin.store import AdminStore, now

#: The actions recorded; ``target`` names the document, token or account acted on.
ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "upload", "publish", "unpublish", "delete", "reindex",
           "token_created", "token_revoked", "account_created")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


class AuditLog:
    def __init__(self, store: AdminStore):
        self.store = store

    def record(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        self.store.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                           (now(), actor, action, target, detail))

    def entries(self, limit: int = 200, offset: int = 0, action: str | None = None) -> list[AuditEntry]:
        where, params = ("WHERE action = ?", [action]) if action else ("", [])
        return [AuditEntry(*r) for r in self.store.query(
            f"SELECT id, at, actor, action, target, detail FROM audit {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset])]
