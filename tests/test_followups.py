"""Follow-ups on any reply (#19 item 5): a position ("第二条", "后面那条", "the second one") points at an
item the previous answer quoted, "另一个城市" / "the other city" at the other place of the conversation.
Real model, real index over the shipped corpus and the 20 replies-dev documents; the previous answers
are the assistant's own, so the items are whatever it quoted."""

from __future__ import annotations

import re

import pytest

from assistant.retrieval.references import answer_items

ORDINALS = "一二三四五"


def _exchange(question: str, answer) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def _listing(assistant, doc_hint: str, n: int = 3) -> tuple[str, list[str], list[str]]:
    """A previous turn as the page shows it: a question about one reply, and an answer that quotes the
    first sentence of ``n`` of its sections, one line each ("- 一、(二)：…… [2]"). Returns the question,
    the answer lines and the quoted chunks' ids."""
    snap = assistant.index.snapshot
    chunks = sorted((c for c in snap.chunks.values() if doc_hint in c.doc_id and c.kind == "section"
                     and len(re.split("[。；]", c.text)[0]) >= 12), key=lambda c: c.order)[:n]
    assert len(chunks) == n, doc_hint
    lines = [f"- {c.section}：{re.split('[。；]', c.text)[0]}。 [{i}]" for i, c in enumerate(chunks, start=1)]
    question = f"《{chunks[0].doc_title}》提出了哪些措施？"
    answer = "\n".join(["根据答复，与您的问题相关的内容如下：", "", f"《{chunks[0].doc_title}》", *lines])
    return question, [question, answer], [c.chunk_id for c in chunks]


@pytest.mark.parametrize("doc_hint", ["zhuzhou", "hangzhou", "nanchong", "zunyi"])
def test_an_ordinal_follow_up_retrieves_the_section_of_the_item_it_points_at(dev_assistant, lexicon, doc_hint):
    question, (_, answer), chunk_ids = _listing(dev_assistant, doc_hint)
    history = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    items = answer_items(answer, lexicon)
    assert len(items) == len(chunk_ids)
    for n, (item, chunk_id) in enumerate(zip(items, chunk_ids), start=1):
        follow = dev_assistant.ask(f"第{ORDINALS[n - 1]}条具体怎么说？", history=history)
        assert item in follow.standalone_question
        assert chunk_id in [s.chunk_id for s in follow.sources[:2]], (n, item)


def test_the_last_one_and_the_second_one_are_positions_in_the_answer(dev_assistant, lexicon):
    question, (_, answer), chunk_ids = _listing(dev_assistant, "zhuzhou")
    history = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    items = answer_items(answer, lexicon)
    last = dev_assistant.ask("后面那条呢？", history=history)
    assert items[-1] in last.standalone_question and last.sources[0].chunk_id == chunk_ids[-1]
    second = dev_assistant.ask("What about the second one?", history=history)
    assert items[1] in second.standalone_question and chunk_ids[1] in [s.chunk_id for s in second.sources[:2]]


@pytest.mark.parametrize("follow", ["那另一个城市收费多少？", "And how much does it cost in the other city?"])
def test_the_other_city_is_the_place_of_the_conversation_the_last_turn_was_not_about(dev_assistant, follow):
    history: list[dict] = []
    for question in ("德阳普惠托育一个月收多少钱？", "绍兴有没有开在社区里的托育点？"):
        history += _exchange(question, dev_assistant.ask(question, history=history))
    answer = dev_assistant.ask(follow, history=history)
    assert "德阳" in answer.standalone_question and "绍兴" not in answer.standalone_question
    assert "deyang" in answer.sources[0].doc_id or "德阳" in answer.sources[0].doc_title


def _documents_with_proposers(assistant, n: int = 3) -> list[tuple[str, str]]:
    snap = assistant.index.snapshot
    named = [(docs[0], name) for name, docs in sorted(snap.by_proposer.items()) if len(docs) == 1]
    return named[:: max(1, len(named) // n)][:n]


def test_a_reply_named_by_its_proposer_in_the_last_answer_is_the_one_a_follow_up_is_about(dev_assistant):
    for doc_id, proposer in _documents_with_proposers(dev_assistant):
        history = [{"role": "user", "content": "这件建议是谁提的？"},
                   {"role": "assistant", "content": f"是{proposer}提出的。"}]
        answer = dev_assistant.ask("是在哪次会议上提的？", history=history)
        assert answer.sources[0].doc_id == doc_id, (proposer, answer.sources[0].doc_id)

