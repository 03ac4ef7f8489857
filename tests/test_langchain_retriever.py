"""``LangChainRetriever`` as LangChain code uses it: langchain-tests' standard retriever tests, then
what they do not check (rank order, metadata, ``k`` as field and keyword, refusals, filters).

Real model, the shipped corpus: the session's ``seed_assistant`` (tests/conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import HUISHUI
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.retrieval.langchain import LangChainRetriever

OFF_TOPIC = "今天天气怎么样"


class TestStandardRetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _hybrid(self, seed_assistant):
        # The standard tests build the retriever from these properties, which take no fixtures.
        self.hybrid = seed_assistant.retriever

    @property
    def retriever_constructor(self) -> type[LangChainRetriever]:
        return LangChainRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"hybrid": self.hybrid}

    @property
    def retriever_query_example(self) -> str:
        return HUISHUI


def test_documents_are_the_ranked_sources_with_their_metadata(seed_assistant):
    docs = seed_assistant.as_retriever(k=4).invoke(HUISHUI)
    ranked = seed_assistant.retriever.retrieve(HUISHUI, k=4).results
    assert [d.id for d in docs] == [sc.chunk.chunk_id for sc in ranked]
    assert [d.id for d in docs] == [c.chunk_id for c in seed_assistant.search(HUISHUI, k=4)]
    scores = [d.metadata["score"] for d in docs]
    assert scores == [sc.score for sc in ranked] and scores == sorted(scores, reverse=True)
    for doc, sc in zip(docs, ranked, strict=True):
        assert doc.page_content == sc.chunk.text
        assert doc.metadata["chunk_id"] == sc.chunk.chunk_id
        assert (doc.metadata["doc_id"], doc.metadata["doc_title"], doc.metadata["section"]) == \
            (sc.chunk.doc_id, sc.chunk.doc_title, sc.chunk.section)
        assert (doc.metadata["dense_score"], doc.metadata["lexical_score"]) == (sc.dense_score, sc.lexical_score)


def test_k_defaults_to_top_k_and_the_keyword_overrides_the_field(seed_assistant):
    top_k = seed_assistant.settings.top_k
    assert len(seed_assistant.as_retriever().invoke(HUISHUI)) == top_k
    retriever = seed_assistant.as_retriever(k=2)
    assert len(retriever.invoke(HUISHUI)) == 2
    longer = retriever.invoke(HUISHUI, k=top_k + 1)
    assert len(longer) == top_k + 1
    # A larger k only appends: the first documents do not change.
    assert [d.id for d in longer[:2]] == [d.id for d in retriever.invoke(HUISHUI)]


def test_ainvoke_takes_k_too(seed_assistant):
    retriever = seed_assistant.as_retriever()
    docs = asyncio.run(retriever.ainvoke(HUISHUI, k=2))
    assert [d.id for d in docs] == [d.id for d in retriever.invoke(HUISHUI, k=2)]


def test_k_must_be_positive(seed_assistant):
    with pytest.raises(ValueError):
        seed_assistant.as_retriever(k=0)


@pytest.mark.parametrize("k", [None, 1, 10])
def test_refused_questions_return_no_documents(seed_assistant, k):
    assert seed_assistant.as_retriever(k=k).invoke(OFF_TOPIC) == []


def test_filters_apply(seed_assistant):
    seed = seed_assistant.as_retriever(filters={"suggestion_no": "第616号"}).invoke(HUISHUI)
    assert seed and {d.metadata["suggestion_no"] for d in seed} == {"第616号"}
    assert seed_assistant.as_retriever(filters={"doc_ids": ["no-such-doc"]}).invoke(HUISHUI) == []
