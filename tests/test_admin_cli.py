"""``assistant admin add|token|revoke|list``: accounts with argon2id hashes, tokens shown once and
stored hashed, revocation by id or by account — all audited."""

from __future__ import annotations

import getpass

from typer.testing import CliRunner

from assistant.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_add_token_list_revoke(tmp_path, monkeypatch):
    from assistant.admin.services import AdminServices
    from assistant.settings import Settings

    data = str(tmp_path)
    answers = iter(["a long enough secret", "a long enough secret", "short", "short", "one secret", "another"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert _run("admin", "add", "editor", "--data-dir", data).exit_code == 0
    too_short = _run("admin", "add", "second", "--data-dir", data)
    assert too_short.exit_code == 1 and "10" in too_short.output
    mismatch = _run("admin", "add", "third", "--data-dir", data)
    assert mismatch.exit_code == 1

    services = AdminServices.open(Settings(data_dir=tmp_path))
    stored = services.store.query("SELECT password_hash FROM accounts WHERE name = 'editor'")[0][0]
    assert stored.startswith("$argon2id$") and "a long enough secret" not in stored
    assert services.accounts.check_password("editor", "a long enough secret")
    assert not services.accounts.check_password("editor", "wrong") and not services.accounts.check_password("x", "y")

    issued = _run("admin", "token", "editor", "--data-dir", data)
    token = issued.stdout.strip().splitlines()[-1]
    assert issued.exit_code == 0 and token.startswith("ra_")
    assert services.accounts.token_owner(token) == "editor"
    assert token.split("_")[2] not in str(services.store.query("SELECT * FROM tokens"))
    assert _run("admin", "token", "nobody", "--data-dir", data).exit_code == 1

    listing = _run("admin", "list", "--data-dir", data)
    assert listing.exit_code == 0 and "editor" in listing.output and token.split("_")[1] in listing.output
    assert _run("admin", "revoke", "editor", "--data-dir", data).exit_code == 0
    assert services.accounts.token_owner(token) is None
    assert _run("admin", "revoke", "editor", "--data-dir", data).exit_code == 1  # nothing left to revoke
    actions = [e.action for e in services.audit.entries()]
    assert actions[:3] == ["token_revoked", "token_created", "account_created"]


def test_sessions_expire_and_close(tmp_path):
    from assistant.admin.accounts import Accounts
    from assistant.admin.store import AdminStore

    accounts = Accounts(AdminStore(tmp_path / "admin.sqlite3"))
    accounts.add("editor", "a long enough secret")
    session_id, session = accounts.open_session("editor", hours=1)
    assert accounts.session(session_id) == session
    accounts.close_session(session_id)
    assert accounts.session(session_id) is None
    expired, _ = accounts.open_session("editor", hours=-1)
    assert accounts.session(expired) is None


def test_backoff_doubles_and_resets():
    from assistant.admin.throttle import SignInThrottle

    throttle = SignInThrottle(after=2, base_s=1.0, cap_s=5.0)
    keys = ["name:editor", "client:1.2.3.4"]
    throttle.failed(keys, at=0.0)
    assert throttle.wait(keys, at=0.0) == 0.0
    throttle.failed(keys, at=0.0)
    assert throttle.wait(keys, at=0.0) == 1.0
    throttle.failed(keys, at=0.0)
    assert throttle.wait(["client:1.2.3.4"], at=0.5) == 1.5
    for _ in range(5):
        throttle.failed(keys, at=0.0)
    assert throttle.wait(keys, at=0.0) == 5.0  # capped
    throttle.succeeded(keys)
    assert throttle.wait(keys, at=0.0) == 0.0
