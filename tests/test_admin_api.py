"""The admin API over real HTTP: sign-in, sessions, CSRF, back-off, cookie flags, hostile uploads,
and a replies-dev reply that becomes answerable after publish and is refused after delete.

Real uvicorn, real Assistant (embeddings, Chroma) over ``corpus/``; the reply uploaded is
``tests/fixtures/admin/leishan-tourism-rd58.txt`` (fictional, copied from replies-dev).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from admin_helpers import (
    ADMIN,
    PASSWORD,
    add_admin,
    docx_bytes,
    new_token,
    signed_in,
    textless_pdf,
    with_member,
)
from helpers import FIXTURES, LiveServer, build_assistant

REPLY = FIXTURES / "admin" / "leishan-tourism-rd58.txt"
QUESTION = "西江千户苗寨新建了多少停车泊位？"
LOCKOUT_AFTER = 3

#: Every admin route, with a body where it needs one (ids that do not exist: auth comes first).
ADMIN_ROUTES = [
    ("POST", "/api/admin/logout"), ("GET", "/api/admin/me"), ("GET", "/api/admin/documents"),
    ("POST", "/api/admin/documents"), ("GET", "/api/admin/documents/x"),
    ("POST", "/api/admin/documents/x/publish"), ("POST", "/api/admin/documents/x/unpublish"),
    ("DELETE", "/api/admin/documents/x"), ("POST", "/api/admin/reindex"), ("GET", "/api/admin/log"),
    ("GET", "/api/admin/stats"), ("GET", "/api/admin/audit"),
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, model_settings, embedder):
    return build_assistant(tmp_path_factory, model_settings, embedder)


@pytest.fixture(scope="module")
def server(assistant) -> Iterator[LiveServer]:
    with LiveServer(assistant, rate_limit_per_minute=10_000, admin_lockout_after=LOCKOUT_AFTER,
                    admin_lockout_base_s=60, admin_max_upload_bytes=200_000, admin_max_upload_files=3) as live:
        add_admin(live.settings)
        yield live


def test_every_admin_route_needs_a_session_or_a_token(server):
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        for method, path in ADMIN_ROUTES:
            response = anonymous.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "not_signed_in"
        forged = anonymous.get("/api/admin/me", headers={"Authorization": "Bearer ra_000000000000_" + "x" * 40})
        assert forged.status_code == 401
        anonymous.cookies.set("assistant_admin", "forged.cookie.value")
        assert anonymous.get("/api/admin/me").status_code == 401


def test_a_session_without_its_csrf_token_may_read_but_not_change(server):
    with signed_in(server) as client:
        token = client.headers.pop("X-CSRF-Token")
        assert client.get("/api/admin/me").status_code == 200
        for method, path in ADMIN_ROUTES:
            if method == "GET":
                continue
            response = client.request(method, path)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "csrf_failed"
        wrong = client.post("/api/admin/reindex", headers={"X-CSRF-Token": token[:-2] + "xx"})
        assert wrong.status_code == 403


def test_a_bearer_token_needs_no_csrf_and_a_revoked_one_is_refused(server):
    from assistant.admin.services import AdminServices

    token = new_token(server.settings)
    with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        me = client.get("/api/admin/me").json()
        assert me == {"name": ADMIN, "via": "token", "csrf_token": "", "expires_at": None}
        assert client.post("/api/admin/reindex").status_code == 200
        AdminServices.open(server.settings).accounts.revoke(token.split("_")[1])
        assert client.get("/api/admin/me").status_code == 401


def test_cookie_flags_and_a_signed_out_cookie_is_useless(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = client.post("/api/admin/login", json={"name": ADMIN, "password": PASSWORD})
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("assistant_admin="))
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "max-age", "path", "samesite"} <= flags and "secure" not in flags
        assert "samesite=strict" in cookie.lower()
        stolen = client.cookies.get("assistant_admin")
        csrf = response.json()["csrf_token"]
        assert client.post("/api/admin/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    with httpx.Client(base_url=server.url, timeout=60) as thief:
        thief.cookies.set("assistant_admin", stolen)
        assert thief.get("/api/admin/me").status_code == 401
        assert thief.post("/api/admin/reindex", headers={"X-CSRF-Token": csrf}).status_code == 401


def test_secure_cookie_behind_a_trusted_https_proxy(server):
    # uvicorn trusts X-Forwarded-Proto from --forwarded-allow-ips (default 127.0.0.1, the test client).
    with httpx.Client(base_url=server.url, timeout=60, headers={"X-Forwarded-Proto": "https"}) as client:
        response = client.post("/api/admin/login", json={"name": ADMIN, "password": PASSWORD})
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("assistant_admin="))
        assert "; secure" in cookie.lower()


def test_repeated_wrong_passwords_back_off_with_429(assistant):
    # A server of its own: the lock-out also holds this client's address, which the other tests share.
    with LiveServer(assistant, rate_limit_per_minute=10_000, admin_lockout_after=LOCKOUT_AFTER,
                    admin_lockout_base_s=60) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        add_admin(server.settings)
        wrong = {"name": ADMIN, "password": "not the password"}
        for _ in range(LOCKOUT_AFTER):
            assert client.post("/api/admin/login", json=wrong).status_code == 401
        for attempt in (wrong, {"name": ADMIN, "password": PASSWORD}):  # locked: not even checked
            locked = client.post("/api/admin/login", json=attempt)
            assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 1
            assert locked.json()["error"]["code"] == "sign_in_locked"
        token = {"Authorization": f"Bearer {new_token(server.settings)}"}
        actions = [e["action"] for e in client.get("/api/admin/audit", headers=token).json()["entries"]]
        assert actions.count("sign_in_failed") == LOCKOUT_AFTER


def _state(client: httpx.Client, server: LiveServer) -> tuple:
    uploads = server.settings.uploads_dir
    files = sorted(p.relative_to(uploads).as_posix() for p in uploads.rglob("*")) if uploads.exists() else []
    return client.get("/api/admin/documents").json(), files


HOSTILE = {
    "zip_bomb": ("bomb.docx", with_member(docx_bytes(), "word/padding.xml", b"\0" * 30_000_000)),
    "macro_docx": ("macro.docx", with_member(docx_bytes(), "word/vbaProject.bin", b"Attribute VB_Name")),
    "encrypted_docx": ("secret.docx", bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 4096),
    "unreadable": ("scan.pdf", textless_pdf()),
    "unsafe_name": ("../../x.txt", "关于测试的答复\n一、内容。".encode()),
    "file_too_large": ("big.txt", ("答复内容。" * 20_000).encode()),
    "too_many_files": None,
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_uploads_are_refused_and_change_nothing(server, case):
    with signed_in(server) as client:
        before = _state(client, server)
        if case == "too_many_files":
            files = [("files", (f"r{i}.txt", "关于测试的答复\n一、内容。".encode(), "text/plain")) for i in range(4)]
        else:
            name, data = HOSTILE[case]
            files = [("files", ("fine.txt", "关于测试的答复\n一、内容。".encode(), "text/plain")),
                     ("files", (name, data, "application/octet-stream"))]
        response = client.post("/api/admin/documents", files=files)
        assert response.status_code in (400, 413), response.text
        error = response.json()["error"]
        assert error["code"] == case, error
        assert error["message"].split("/")[0].strip(), "a Chinese sentence first"
        assert _state(client, server) == before


def test_upload_draft_preview_publish_answer_delete_refuse(server):
    with signed_in(server) as client:
        draft = client.post("/api/admin/documents", data={"publish": "false"},
                            files=[("files", (REPLY.name, REPLY.read_bytes(), "text/plain"))])
        assert draft.status_code == 201, draft.text
        upload = draft.json()["uploads"][0]
        preview = upload["preview"]
        assert upload["status"] == "draft" and "path" not in upload
        assert preview["suggestion_no"] == "第58号" and preview["issuer"] == "雷山县人民政府"
        assert preview["sections"] and "no_numbering" in {w["code"] for w in preview["warnings"]}
        refused = client.post("/api/chat", json={"question": QUESTION}).json()
        assert refused["refused"], "a draft is not in the index"

        published = client.post(f"/api/admin/documents/{upload['upload_id']}/publish")
        assert published.status_code == 200, published.text
        doc_id = published.json()["doc_id"]
        listed = {d["doc_id"]: d for d in client.get("/api/admin/documents", params={"q": "雷山"}).json()["documents"]}
        assert listed[doc_id]["published_by"] == ADMIN and listed[doc_id]["sections"] > 0
        answer = client.post("/api/chat", json={"question": QUESTION}).json()
        assert not answer["refused"], answer["answer"]
        assert any(c["doc_id"] == doc_id and "1300" in c["text"] for c in answer["citations"])
        assert answer["answer_id"]

        assert client.delete(f"/api/admin/documents/{doc_id}").status_code == 200
        assert client.post("/api/chat", json={"question": QUESTION}).json()["refused"]
        assert doc_id not in {d["doc_id"] for d in client.get("/api/admin/documents").json()["documents"]}
        assert not (server.settings.uploads_dir / upload["upload_id"]).exists()
        actions = [e["action"] for e in client.get("/api/admin/audit").json()["entries"]][:4]
        assert actions[0] == "delete" and "publish" in actions and "upload" in actions


def test_the_audit_log_is_append_only(server):
    import sqlite3

    from assistant.admin.services import AdminServices

    store = AdminServices.open(server.settings).store
    with pytest.raises(sqlite3.IntegrityError):
        store.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.IntegrityError):
        store.execute("UPDATE audit SET actor = 'someone else'")


def test_unknown_documents_are_404(server):
    with signed_in(server) as client:
        for method, path in (("POST", "/api/admin/documents/nothing/publish"),
                             ("DELETE", "/api/admin/documents/nothing"), ("GET", "/api/admin/documents/nothing")):
            assert client.request(method, path).status_code == 404


def test_uploaded_files_stay_inside_the_uploads_folder(server):
    with signed_in(server) as client:
        response = client.post("/api/admin/documents", data={"publish": "false"},
                               files=[("files", ("答复 草稿.txt", REPLY.read_bytes(), "text/plain"))])
        upload_id = response.json()["uploads"][0]["upload_id"]
        stored = list((server.settings.uploads_dir / upload_id).iterdir())
        assert [p.name for p in stored] == ["答复 草稿.txt"]
        assert Path(stored[0]).resolve().is_relative_to(server.settings.uploads_dir.resolve())
        assert client.delete(f"/api/admin/documents/{upload_id}").status_code == 200
        time.sleep(0)  # nothing published: no reload to wait for


def test_the_schemathesis_findings_are_fixed(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for path, allowed in (("/api/chat", "POST"), ("/healthz", "GET"), ("/api/admin/documents", "GET, POST")):
            response = client.request("TRACE", path)
            assert response.status_code == 405 and response.headers["allow"] == allowed, path
        assert client.request("TRACE", "/no/such/page").status_code == 404
        assert client.get("/").status_code == 200, "the page still answers GET"
        refused = client.get("/api/search", params={"q": "惠水", "doc_id": "false"})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_document"
        assert client.get("/api/search", params={"q": "惠水", "doc_id": ""}).status_code == 200
        spec = client.get("/openapi.json").json()["paths"]
        assert {"400", "413", "422"} <= spec["/api/chat/stream"]["post"]["responses"].keys()
        assert client.post("/api/chat/stream", content=b"{not json",
                           headers={"Content-Type": "application/json"}).status_code in (400, 422)


def test_unpublish_keeps_a_draft_and_reindex_restores_nothing_unpublished(server):
    with signed_in(server) as client:
        upload = client.post("/api/admin/documents", files=[("files", (REPLY.name, REPLY.read_bytes(), "text/plain"))])
        published = upload.json()["uploads"][0]
        assert published["status"] == "published"
        assert not client.post("/api/chat", json={"question": QUESTION}).json()["refused"]
        draft = client.post(f"/api/admin/documents/{published['upload_id']}/unpublish").json()
        assert draft["status"] == "draft" and draft["published_by"] == ""
        assert client.post("/api/admin/reindex").status_code == 200
        assert client.post("/api/chat", json={"question": QUESTION}).json()["refused"]
        rows = client.get("/api/admin/documents", params={"sort": "status", "order": "asc"}).json()["documents"]
        assert any(r["upload_id"] == published["upload_id"] and r["status"] == "draft" for r in rows)
        assert client.delete(f"/api/admin/documents/{published['upload_id']}").status_code == 200
