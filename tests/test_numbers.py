"""Suggestion numbers: one normaliser (assistant.reading.numbers) for the parser, the retriever, the
follow-up rewrite and the filters — unit tests, then end to end over the shipped reply."""

from __future__ import annotations

import pytest

from assistant.reading.loaders import RawText
from assistant.reading.numbers import normalize_suggestion_no, suggestion_numbers
from assistant.reading.parser import parse_reply

SEED_ID = "reply-616-guiyang"


# ---- in running text (questions, titles) -----------------------------------------------------------


@pytest.mark.parametrize("text", [
    "第616号建议是谁提出的？", "第６１６号建议是谁提出的？", "第0616号建议是谁提出的？", "第 616 号", "第　６１６　号",
    "616号建议是在哪一届人大的哪次会上提的？", "６１６号代表建议", "0616号提案",
    "Which deputy put forward suggestion No. 616?", "NO.616", "ｎｏ．６１６",
])
def test_a_number_named_in_text(text):
    assert suggestion_numbers(text) == ["第616号"]


@pytest.mark.parametrize("text", [
    "2023年的目标是多少？", "第3条规定了什么？", "投资616万元", "616万元用于哪里？", "坐地铁3号线", "国发〔2022〕2号文件",
    "616号", "There is no 616", "suggestion 616", "第六百一十六号", "",
])
def test_what_is_not_a_suggestion_number_in_text(text):
    # A bare "616号" in a question may be a bus line, a house or a document number: only 第616号,
    # 616号建议/提案/议案 and "No. 616" name a suggestion.
    assert suggestion_numbers(text) == []


def test_several_numbers_in_order_each_once():
    assert suggestion_numbers("第617号和第６１６号，还有0617号建议、No. 9") == ["第617号", "第616号", "第9号"]


def test_a_hostile_number_does_not_break_the_normaliser():
    assert suggestion_numbers("第" + "9" * 5000 + "号") == ["第" + "9" * 5000 + "号"]
    assert suggestion_numbers("第000号") == ["第0号"]


# ---- values known to be numbers (header fields, filters) ----------------------------------------------


@pytest.mark.parametrize("value", [
    "第616号", "616", "0616", "616号", "第 616 号", "第６１６号", "第0616号", "６１６", "No. 616",
    "黔人大建〔2022〕第616号", " 616 ",
])
def test_normalize_a_value(value):
    assert normalize_suggestion_no(value) == "第616号"


@pytest.mark.parametrize("value, expected", [("", ""), ("无", ""), ("待定", ""), ("0123", "第123号"),
                                             ("国发〔2022〕2号", "第2号")])
def test_normalize_other_values(value, expected):
    assert normalize_suggestion_no(value) == expected


# ---- the parser -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, title", [
    ("建议提案编号: 第０６１６号", "关于加强城乡融合发展的答复"),
    ("建议编号：0616", "关于加强城乡融合发展的答复"),
    ("", "市人民政府关于第0616号代表建议的答复"),
    ("", "市人民政府关于616号建议的答复"),
])
def test_parser_reads_the_number_from_a_field_or_the_title(field, title):
    text = "\n".join(x for x in (title, field, "凌毅代表：", "您的建议收悉。") if x)
    doc = parse_reply(RawText(doc_id="d", text=text, source="d.txt"))
    assert doc.suggestion_no == "第616号"


def test_parser_ignores_a_number_in_a_title_that_is_no_suggestion():
    doc = parse_reply(RawText(doc_id="d", text="关于第3号文件的通知\n各单位：\n请遵照执行。", source="d.txt"))
    assert doc.suggestion_no == ""


# ---- the follow-up rewrite (no model) ------------------------------------------------------------------


def test_a_follow_up_carries_the_canonical_number():
    from assistant.language.lexicon import Lexicon
    from assistant.retrieval.rewrite import rewrite_deterministic

    lexicon = Lexicon.default()
    history = [{"role": "user", "content": "第０６１６号建议是谁提出的？"},
               {"role": "assistant", "content": "凌毅代表。"}]
    standalone = rewrite_deterministic("那主办单位呢？", history, lexicon)
    assert "第616号" in standalone and "０６１６" not in standalone
    # A follow-up that names the number itself (in another spelling) does not get it twice.
    again = rewrite_deterministic("那第616号的主办单位呢？", history, lexicon)
    assert again.count("616") == 1


# ---- end to end: the real model over the shipped reply -------------------------------------------------


@pytest.mark.parametrize("question", ["第６１６号建议是谁提出的？", "第0616号建议是谁提出的？",
                                      "616号建议是谁提出的？"])
def test_questions_naming_the_number_in_any_spelling_are_answered(seed_assistant, question):
    answer = seed_assistant.ask(question)
    assert not answer.refused, answer.answer
    assert "凌毅" in answer.answer
    assert answer.citations and answer.citations[0].doc_id == SEED_ID
    assert answer.citations[0].suggestion_no == "第616号"


def test_an_unknown_number_is_refused_in_its_canonical_spelling(seed_assistant):
    answer = seed_assistant.ask("第０９９９号建议的答复说了什么？")
    assert answer.refused and "第999号" in answer.answer and "第616号" in answer.answer


@pytest.mark.parametrize("number", ["第616号", "0616", "第６１６号", "616", "No. 616"])
def test_the_number_filter_accepts_any_spelling(seed_assistant, number):
    question = "联动发展保障机制包括哪些内容？"
    found = seed_assistant.search(question, k=5, filters={"suggestion_no": number})
    assert found and {c.doc_id for c in found} == {SEED_ID}
    answer = seed_assistant.ask(question, filters={"suggestion_no": number})
    assert not answer.refused and answer.citations
    assert {c.doc_id for c in answer.citations} == {SEED_ID}


@pytest.mark.parametrize("number", ["0617", "第６１７号"])
def test_a_filter_on_an_unknown_number_finds_nothing(seed_assistant, number):
    # It used to fall open and search every document; now it is refused like a question naming it.
    question = "联动发展保障机制包括哪些内容？"
    assert seed_assistant.search(question, filters={"suggestion_no": number}) == []
    answer = seed_assistant.ask(question, filters={"suggestion_no": number})
    assert answer.refused and "第617号" in answer.answer and not answer.citations


def test_the_http_api_reads_the_number_in_any_spelling(seed_assistant):
    import httpx
    from servers import ThreadedServer, free_port

    from assistant.web.app import create_app

    settings = seed_assistant.settings.with_overrides(port=free_port())
    with ThreadedServer(create_app(settings, seed_assistant), settings.port) as live, \
            httpx.Client(base_url=live.url, timeout=60) as client:
        found = client.get("/api/search", params={"q": "联动发展保障机制包括哪些内容？", "suggestion_no": "0616"})
        assert found.status_code == 200, found.text
        assert found.json()["results"] and {r["doc_id"] for r in found.json()["results"]} == {SEED_ID}
        chat = client.post("/api/chat", json={"question": "第６１６号建议是谁提出的？"})
        assert chat.status_code == 200, chat.text
        assert not chat.json()["refused"] and "凌毅" in chat.json()["answer"]
        filtered = client.post("/api/chat", json={"question": "联动发展保障机制包括哪些内容？",
                                                  "filters": {"suggestion_no": "第0616号"}})
        assert filtered.status_code == 200 and {c["doc_id"] for c in filtered.json()["citations"]} == {SEED_ID}
