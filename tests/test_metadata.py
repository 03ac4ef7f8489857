"""Metadata everywhere it helps (#18 item 3): the reply's issuer, kind, 文号 and date in each citation,
document listings filtered and sorted by them, and retrieval filters on them.

One real index (real embeddings, real Chroma) over ``corpus/`` and the 20 replies-dev documents,
built once for the module; the API tests serve it over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest
from helpers import CORPUS, ROOT, LiveServer

REPLIES_DEV = ROOT.parent / "shared" / "data" / "replies-dev" / "docs"
DEYANG = "deyang-childcare-zx0032"
CHILDCARE = "托育机构的运营补贴是多少？"  # answered by 德阳 (政协提案) and 绍兴 (人大代表建议)

pytestmark = pytest.mark.skipif(not REPLIES_DEV.is_dir(), reason="replies-dev is not on this machine")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, model_settings, embedder):
    from assistant.core import Assistant

    settings = model_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("metadata"),
        embedding_cache_path=model_settings.models_dir.parent / "embeddings.sqlite3")
    assistant = Assistant(settings, embedder)
    report = assistant.ingest([CORPUS, REPLIES_DEV])
    assert not report.failed, report.failed
    return assistant


@pytest.fixture(scope="module")
def client(assistant) -> Iterator[httpx.Client]:
    with LiveServer(assistant, rate_limit_per_minute=10_000) as live, \
            httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


# ---- citations ---------------------------------------------------------------------------------


def test_citations_carry_the_replys_issuer_kind_number_and_date(assistant):
    answer = assistant.ask(CHILDCARE, filters={"issuer": "德阳"})
    assert not answer.refused, answer.answer
    assert answer.citations and answer.sources
    for citation in answer.citations + answer.sources:
        assert citation.doc_id == DEYANG
        assert (citation.issuer, citation.doc_kind, citation.doc_number, citation.date) == (
            "德阳市卫生健康委员会", "政协提案", "德卫提复〔2024〕5号", "2024-07-01")
        assert citation.suggestion_no == "第32号"
    seed = assistant.search("惠水 土地", k=3, filters={"suggestion_no": "第616号"})
    assert seed and all(c.issuer == "贵阳市人民政府" and c.doc_kind == "人大代表建议" for c in seed)
    assert all(c.date == "" and c.doc_number == "" for c in seed), "the seed states neither: never guessed"


# ---- retrieval filters -------------------------------------------------------------------------


def test_without_a_filter_the_childcare_question_reaches_both_replies(assistant):
    """What makes the filter tests below able to fail: unfiltered, 绍兴's reply competes too."""
    found = assistant.search(CHILDCARE, k=10)
    assert {DEYANG, "shaoxing-childcare-rd74"} <= {c.doc_id for c in found}


def test_filters_combine_with_and(assistant):
    proposals = assistant.search(CHILDCARE, k=10, filters={"kind": "提案", "year": 2024})
    assert proposals and {c.doc_kind for c in proposals} == {"政协提案"}
    assert DEYANG in {c.doc_id for c in proposals}
    suggestions = assistant.search(CHILDCARE, k=10, filters={"kind": "suggestion", "issuer": "绍兴"})
    assert {c.doc_id for c in suggestions} == {"shaoxing-childcare-rd74"}
    by_number = assistant.search(CHILDCARE, k=10, filters={"suggestion_no": "0032", "issuer": "德阳"})
    assert {c.doc_id for c in by_number} == {DEYANG}


@pytest.mark.parametrize("filters", [
    {"year": 2023},  # every reply here is from 2024 (the seed is undated)
    {"issuer": "德阳", "kind": "人大代表建议"},  # 德阳's reply answers a 政协提案
    {"issuer": "德阳", "doc_ids": ["shaoxing-childcare-rd74"]},
    {"suggestion_no": "第32号", "year": 2023},
])
def test_a_filter_that_leaves_no_document_is_refused(assistant, filters):
    answer = assistant.ask(CHILDCARE, filters=filters)
    assert answer.refused and not answer.citations and not answer.sources
    assert "筛选条件" in answer.answer
    assert assistant.search(CHILDCARE, filters=filters) == []


def test_refusals_name_the_filters_in_the_questions_language(assistant):
    zh = assistant.ask(CHILDCARE, filters={"year": 2023, "issuer": "德阳"})
    assert "2023年" in zh.answer and "德阳" in zh.answer
    en = assistant.ask("What subsidy do childcare centres get?", filters={"year": 2023})
    assert en.refused and "year 2023" in en.answer


def test_an_unknown_number_filter_is_still_refused_as_an_unknown_number(assistant):
    answer = assistant.ask(CHILDCARE, filters={"suggestion_no": "9876"})
    assert answer.refused and "第9876号" in answer.answer and "收录的建议编号" in answer.answer


# ---- listing -----------------------------------------------------------------------------------


def test_documents_are_listed_newest_first_undated_last_then_by_title(assistant):
    docs = assistant.documents()
    assert len(docs) == 21
    dated = [d for d in docs if d["date"]]
    assert len(dated) == 20 and docs[: len(dated)] == dated, "undated documents come last"
    keys = [(d["date"], d["title"]) for d in dated]
    for (date, title), (next_date, next_title) in pairwise(keys):
        assert date > next_date or (date == next_date and title <= next_title), (date, next_date)
    assert sum(1 for d in dated if d["date"] == "2024-06-20") == 2, "the title order is exercised"
    assert docs[0]["doc_id"] == "nanchong-employment-rd96"  # 2024-10-16, the newest
    assert docs[-1]["doc_id"] == "reply-616-guiyang"
    assert {d["doc_kind"] for d in docs} == {"人大代表建议", "政协提案"}


def _ids(docs: list[dict]) -> set[str]:
    return {d["doc_id"] for d in docs}


def test_documents_filters(assistant):
    assert _ids(assistant.documents(issuer="德阳")) == {DEYANG}
    for spelling in ("0032", "32", "第３２号", "第 32 号"):
        assert _ids(assistant.documents(number=spelling)) == {DEYANG}, spelling
    assert assistant.documents(number="abc") == [], "a number that names none matches none"
    proposals = assistant.documents(kind="proposal")
    assert len(proposals) == 9 and {d["doc_kind"] for d in proposals} == {"政协提案"}
    assert _ids(assistant.documents(kind="政协提案")) == _ids(proposals) == _ids(assistant.documents(kind="提案"))
    assert len(assistant.documents(year=2024)) == 20 and assistant.documents(year=2023) == []
    assert _ids(assistant.documents(issuer="卫生健康", kind="建议")) == {
        "mianyang-health-rd142", "shaoxing-childcare-rd74"}
    assert assistant.documents(issuer="德阳", year=2023) == []


# ---- HTTP --------------------------------------------------------------------------------------


def test_api_documents_filters_and_order(client, assistant):
    listed = client.get("/api/documents").json()["documents"]
    assert [d["doc_id"] for d in listed] == [d["doc_id"] for d in assistant.documents()]
    deyang = client.get("/api/documents", params={"issuer": "德阳"}).json()["documents"]
    assert [(d["doc_id"], d["issuer"], d["doc_kind"], d["date"]) for d in deyang] == [
        (DEYANG, "德阳市卫生健康委员会", "政协提案", "2024-07-01")]
    assert deyang[0]["header"]["doc_number"] == "德卫提复〔2024〕5号"
    assert _ids(client.get("/api/documents", params={"number": "0032"}).json()["documents"]) == {DEYANG}
    assert client.get("/api/documents", params={"year": 2023}).json()["documents"] == []
    kinds = client.get("/api/documents", params={"kind": "政协提案", "year": 2024}).json()["documents"]
    assert len(kinds) == 9
    assert client.get("/api/documents", params={"year": "last"}).status_code == 422


def test_api_chat_and_search_filters(client):
    body = {"question": CHILDCARE, "filters": {"issuer": "德阳", "year": 2024}}
    answer = client.post("/api/chat", json=body).json()
    assert not answer["refused"] and answer["citations"]
    assert {(c["doc_id"], c["issuer"], c["date"]) for c in answer["citations"]} == {
        (DEYANG, "德阳市卫生健康委员会", "2024-07-01")}
    refused = client.post("/api/chat", json={"question": CHILDCARE, "filters": {"year": 2023}}).json()
    assert refused["refused"] and not refused["citations"]
    assert client.post("/api/chat", json={"question": CHILDCARE, "filters": {"year": 1800}}).status_code == 422
    found = client.get("/api/search", params={"q": CHILDCARE, "issuer": "绍兴", "kind": "建议"}).json()["results"]
    assert found and {c["doc_id"] for c in found} == {"shaoxing-childcare-rd74"}


def test_openapi_documents_the_criteria(client):
    schema = client.get("/openapi.json").json()
    listing = {p["name"]: p for p in schema["paths"]["/api/documents"]["get"]["parameters"]}
    assert set(listing) == {"issuer", "kind", "year", "number"}
    assert all(p["in"] == "query" and p["schema"] and p.get("description") for p in listing.values())
    search = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"issuer", "kind", "year", "suggestion_no", "doc_id"} <= search
    filters = schema["components"]["schemas"]["ChatFilters"]["properties"]
    assert {"issuer", "kind", "year", "suggestion_no", "doc_ids"} <= set(filters)
    summary = schema["components"]["schemas"]["DocumentSummary"]["properties"]
    assert {"issuer", "doc_kind", "date", "header"} <= set(summary)


# ---- CLI ---------------------------------------------------------------------------------------


def test_cli_documents_filters_and_columns(assistant, model_settings, monkeypatch):
    import json

    from typer.testing import CliRunner

    from assistant.cli import app

    monkeypatch.setenv("ASSISTANT_MODELS_PATH", str(model_settings.models_dir))
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps a table to the terminal's width
    data_dir = str(assistant.settings.data_dir)
    runner = CliRunner()
    shown = runner.invoke(app, ["documents", "--data-dir", data_dir, "--issuer", "德阳"])
    assert shown.exit_code == 0, shown.output
    assert "发文单位 issuer" in shown.output and "日期 date" in shown.output
    assert "德阳市卫生健康委员会" in shown.output and "政协提案" in shown.output and "2024-07-01" in shown.output
    assert "shaoxing" not in shown.output
    listed = runner.invoke(app, ["documents", "--data-dir", data_dir, "--json", "--kind", "建议", "--year", "2024",
                                 "--number", "第０７４号"])
    assert listed.exit_code == 0, listed.output
    assert [d["doc_id"] for d in json.loads(listed.stdout)] == ["shaoxing-childcare-rd74"]


def test_a_year_that_is_not_a_number_says_so():
    from assistant.index.document_query import DocumentQuery

    assert DocumentQuery.of(year="2024").year == 2024
    with pytest.raises(ValueError, match="year must be a number"):
        DocumentQuery.of(year="去年")
