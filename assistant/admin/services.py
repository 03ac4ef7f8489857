"""Everything the administration needs, opened once per process on one database."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from assistant.admin.accounts import Accounts
from assistant.admin.audit import AuditLog
from assistant.admin.conversations import ConversationLog
from assistant.admin.store import AdminStore
from assistant.admin.throttle import SignInThrottle
from assistant.limitstore import limit_store
from assistant.settings import Settings


@dataclass
class AdminServices:
    store: AdminStore
    accounts: Accounts
    audit: AuditLog
    conversations: ConversationLog
    throttle: SignInThrottle
    secret_key: str

    @classmethod
    def open(cls, settings: Settings) -> AdminServices:
        store = AdminStore(settings.admin_db_path)
        return cls(store, Accounts(store), AuditLog(store),
                   ConversationLog(store, settings.log_retention_days),
                   SignInThrottle(settings.admin_lockout_after, settings.admin_lockout_base_s,
                                  settings.admin_lockout_max_s, store=limit_store(settings.state_dir)),
                   settings.admin_secret_key or secret_key(settings.data_dir / "admin-secret"))


def secret_key(path: Path) -> str:
    """The key that signs session cookies: made once, readable by this user only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
