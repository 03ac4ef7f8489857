"""The conversation log and feedback over real HTTP: every channel logged with an answer id, no IP
or cookie stored, feedback (public, validated, rate-limited), filters, CSV export, statistics and the
retention purge."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import httpx
import pytest
from admin_helpers import add_admin, signed_in
from helpers import HUISHUI, LiveServer, build_assistant, parse_sse

OFF_TOPIC = "火星上的天气怎么样？"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, model_settings, embedder):
    return build_assistant(tmp_path_factory, model_settings, embedder)


@pytest.fixture(scope="module")
def server(assistant) -> Iterator[LiveServer]:
    with LiveServer(assistant, rate_limit_per_minute=10_000) as live:
        add_admin(live.settings)
        yield live


@pytest.fixture(scope="module")
def logged(server) -> dict[str, dict]:
    """One answer per channel: the API, the widget's stream, and a refusal."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        api = client.post("/api/chat", json={"question": HUISHUI}).json()
        stream = client.post("/api/chat/stream?channel=widget", json={"question": HUISHUI}).text
        widget = next(data for name, data in parse_sse(stream) if name == "done")
        refused = client.post("/api/chat", json={"question": OFF_TOPIC}).json()
    return {"api": api, "widget": widget, "refused": refused}


def _row(client: httpx.Client, answer_id: str) -> dict:
    rows = client.get("/api/admin/log", params={"limit": 1000}).json()["rows"]
    return next(r for r in rows if r["answer_id"] == answer_id)


def test_every_answer_is_logged_with_its_channel_and_no_ip(server, logged):
    assert logged["refused"]["refused"] and logged["refused"]["refusal_reason"]
    with signed_in(server) as client:
        api, widget, refused = (_row(client, logged[k]["answer_id"]) for k in ("api", "widget", "refused"))
    assert (api["channel"], widget["channel"], refused["channel"]) == ("api", "widget", "api")
    assert api["question"] == HUISHUI and not api["refused"] and api["latency_ms"] > 0
    assert api["cited"] == [c["chunk_id"] for c in logged["api"]["citations"]]
    assert refused["refused"] and refused["reason"] == logged["refused"]["refusal_reason"]
    from assistant.admin.services import AdminServices

    store = AdminServices.open(server.settings).store
    columns = {r[1] for r in store.query("PRAGMA table_info(conversations)")}
    columns |= {r[1] for r in store.query("PRAGMA table_info(feedback)")}
    assert not columns & {"ip", "client", "address", "cookie", "session", "user_agent"}
    dump = "\n".join(map(str, store.query("SELECT * FROM conversations")))
    assert "127.0.0.1" not in dump and "assistant_admin" not in dump


def test_the_page_channel_logs_too(server):
    from assistant.web.answer_log import AnswerRecorder

    page = AnswerRecorder(server.app.state.assistant, server.app.state.admin.conversations).channel("page")
    done = next(data for name, data in page(HUISHUI) if name == "done")
    with signed_in(server) as client:
        assert _row(client, done["answer_id"])["channel"] == "page"


def test_feedback_is_stored_validated_and_shown(server, logged):
    answer_id = logged["refused"]["answer_id"]
    with httpx.Client(base_url=server.url, timeout=60) as public:
        comment = "<script>alert(1)</script> 没有回答我的问题"
        ok = public.post("/api/feedback", json={"answer_id": answer_id, "rating": "down", "comment": comment})
        assert ok.status_code == 200, ok.text
        assert public.post("/api/feedback", json={"answer_id": logged["api"]["answer_id"], "rating": "up"}).is_success
        assert public.post("/api/feedback", json={"answer_id": "0" * 24, "rating": "up"}).status_code == 404
        assert public.post("/api/feedback", json={"answer_id": answer_id, "rating": "meh"}).status_code == 422
        too_long = {"answer_id": answer_id, "rating": "down", "comment": "长" * 1001}
        assert public.post("/api/feedback", json=too_long).status_code == 422
    with signed_in(server) as client:
        feedback = _row(client, answer_id)["feedback"]
        assert [(f["rating"], f["comment"]) for f in feedback] == [("down", comment)]
        stats = client.get("/api/admin/stats").json()
        assert stats["questions"] >= 3 and 0 < stats["refusal_rate"] < 1
        assert any(d["comment"] == comment for d in stats["down_with_comments"])
        assert stats["refused_groups"][0]["count"] >= 1 and stats["slowest"]


def test_feedback_is_rate_limited(assistant):
    with LiveServer(assistant, rate_limit_per_minute=10_000) as server, \
            httpx.Client(base_url=server.url, timeout=60) as public:
        body = {"answer_id": "0" * 24, "rating": "up"}
        codes = [public.post("/api/feedback", json=body).status_code for _ in range(12)]
        assert codes[:10] == [404] * 10 and codes[-1] == 429


def test_log_filters_and_csv_export(server, logged):
    with signed_in(server) as client:
        refused = client.get("/api/admin/log", params={"refused": "true"}).json()
        assert refused["total"] >= 1 and all(r["refused"] for r in refused["rows"])
        widget = client.get("/api/admin/log", params={"channel": "widget"}).json()["rows"]
        assert {r["channel"] for r in widget} == {"widget"}
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert client.get("/api/admin/log", params={"since": today, "until": today}).json()["total"] >= 3
        assert client.get("/api/admin/log", params={"until": "2000-01-01"}).json()["total"] == 0
        exported = client.get("/api/admin/log", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert {r["answer_id"] for r in rows} >= {logged[k]["answer_id"] for k in logged}
        assert any(r["question"] == HUISHUI and r["refused"] == "0" for r in rows)


def test_csv_cells_never_start_a_formula(server):
    with httpx.Client(base_url=server.url, timeout=60) as public:
        answer = public.post("/api/chat", json={"question": "=HYPERLINK(\"http://x\") 惠水土地"}).json()
    with signed_in(server) as client:
        text = client.get("/api/admin/log", params={"format": "csv"}).text
    row = next(r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if r["answer_id"] == answer["answer_id"])
    assert row["question"].startswith("'=")


def test_retention_purges_old_rows_and_their_feedback(tmp_path):
    from assistant.admin.conversations import ConversationLog
    from assistant.admin.store import AdminStore

    log = ConversationLog(AdminStore(tmp_path / "admin.sqlite3"), retention_days=180)
    old = log.record({"question": "旧问题", "answer": "…", "refused": True}, "api", 12.0)
    new = log.record({"question": "新问题", "answer": "…"}, "page", 8.0)
    log.feedback(old, "down", "过时")
    log.store.execute("UPDATE conversations SET at = at - 181 * 86400 WHERE answer_id = ?", (old,))
    assert log.purge() == 1
    assert [r["answer_id"] for r in log.rows()[1]] == [new]
    assert log.store.query("SELECT COUNT(*) FROM feedback")[0][0] == 0


def test_refused_questions_are_grouped_by_shared_words(lexicon):
    from assistant.admin.conversations import group_similar

    groups = group_similar(["城区停车位太少怎么办？", "城区停车位太少", "学校食堂卫生谁管？", "城区停车位不够"],
                           lexicon.tokenize)
    assert groups[0]["count"] >= 2 and "城区停车位太少怎么办？" in groups[0]["questions"]
    assert sum(g["count"] for g in groups) == 4
