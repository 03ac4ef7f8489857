"""The shipped ranker and gate over a real index (the shipped corpus, real embeddings, real Chroma):
general cases, not evaluation questions — a question about the reply is answered, one about
something no document mentions is refused, the checks refuse what the language says must be there,
and the retrieval carries the gate's probability and what moved it."""

from __future__ import annotations

import pytest
from helpers import HUISHUI


def test_a_question_the_reply_answers_passes_the_gate(seed_assistant):
    found = seed_assistant.retriever.retrieve(HUISHUI)
    assert found.relevant
    evidence = found.evidence
    assert evidence["p_answerable"] >= evidence["threshold"] and not evidence["check"]
    assert set(evidence["features"]) <= set(seed_assistant.retriever.gate_model.features)
    assert found.results and "616" in found.results[0].chunk.suggestion_no


@pytest.mark.parametrize("question, check", [
    ("2031年惠水的土地政策有哪些？", "unanchored"),  # a year the reply does not have
    ("北京市的土地政策怎么保障？", "unanchored"),  # a place the corpus does not cover
    ("惠水的土地政策是哪个电话号码负责咨询？", "fact_missing"),  # a contact the sections do not give
])
def test_what_the_language_says_must_be_there_is_refused(seed_assistant, question, check):
    found = seed_assistant.retriever.retrieve(question)
    assert not found.relevant and found.reason == "no_match"
    assert found.evidence["check"] == check


def test_a_threshold_in_the_settings_overrides_the_models(seed_assistant):
    retriever = seed_assistant.retriever
    saved = retriever.settings
    try:
        retriever.settings = saved.with_overrides(gate_threshold=1.0)
        assert not retriever.retrieve(HUISHUI).relevant
    finally:
        retriever.settings = saved
