"""Sentences chosen by meaning: vectors computed at ingest, loaded with the snapshot, used by the
extractive answer; an index without them answers by words alone, and the next ingest fills them in."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.answer.extractive import select_sentences
from assistant.core import Assistant
from assistant.index.ingest import Ingestor
from assistant.index.registry import Registry
from assistant.index.search_index import Snapshot
from assistant.index.sentence_vectors import MODEL_META, sentence_texts

REPLY = """关于市八届人大二次会议第0123号代表建议的答复

王明代表：
您提出的《关于改善老年人生活服务的建议》收悉，现答复如下：
一、关于老年人就餐
我局高度重视这项工作，多次召开专题会议研究部署。今年在全市社区新建老年食堂45个，为六十岁以上老人提供每餐8元的午餐和晚餐。下一步，我们将继续争取资金支持。
二、关于老旧小区加装电梯
今年共完成既有住宅加装电梯120部，市级财政对每部电梯补助20万元。
三、关于社区养老服务
我局推动建设社区养老服务中心30个，提供日间照料和康复护理服务。

某市民政局
2024年6月20日
"""
# Shares no content word with the sentence that answers it (老年食堂 … 每餐8元的午餐和晚餐).
PARAPHRASE = "爷爷奶奶在附近哪里能吃上便宜的饭菜？"
ANSWER = "今年在全市社区新建老年食堂45个"


@pytest.fixture(scope="module")
def reply_settings(tmp_path_factory, model_settings):
    work = tmp_path_factory.mktemp("sentences")
    (work / "docs").mkdir()
    (work / "docs" / "reply-0123.txt").write_text(REPLY, encoding="utf-8")
    return model_settings.with_overrides(data_dir=work / "data", models_path=model_settings.models_dir,
                                         embedding_cache_path=work / "cache.sqlite3"), work / "docs"


@pytest.fixture(scope="module")
def reply_assistant(reply_settings, embedder):
    settings, docs = reply_settings
    assistant = Assistant(settings, embedder)
    report = assistant.ingest([docs])
    assert not report.failed and report.sentences_embedded > 0
    return assistant


def _quoted(found, lexicon) -> list[str]:
    return [sel.source.chunk.text[a:b] for sel in select_sentences(found, lexicon) for a, b in sel.spans]


def test_a_paraphrase_quotes_the_sentence_that_answers_it(reply_assistant):
    found = reply_assistant.retriever.retrieve(PARAPHRASE)
    assert "老年人就餐" in found.results[0].chunk.text
    assert any(ANSWER in s for s in _quoted(found, reply_assistant.lexicon))


def test_without_sentence_vectors_the_choice_is_by_words(reply_assistant):
    found = reply_assistant.retriever.retrieve(PARAPHRASE)
    old_index = dataclasses.replace(found, sentences=None)
    quoted = _quoted(old_index, reply_assistant.lexicon)
    assert quoted and not any(ANSWER in s for s in quoted)  # the section's opening, as before
    # A question in the reply's own words still gets its sentence from the words.
    worded = reply_assistant.retriever.retrieve("加装电梯每部补助多少？")
    assert any("补助20万元" in s for s in _quoted(dataclasses.replace(worded, sentences=None),
                                                  reply_assistant.lexicon))


def test_the_snapshot_holds_one_row_per_sentence(reply_assistant):
    snap = reply_assistant.index.snapshot
    chunks = list(snap.chunks.values())
    assert set(snap.sentences.rows) == {c.chunk_id for c in chunks}
    assert snap.sentences.matrix.shape == (sum(len(sentence_texts(c)) for c in chunks), 384)
    assert snap.sentences.matrix.dtype.name == "float16"


def test_reingest_fills_in_sentence_vectors_without_re_embedding_chunks(reply_assistant, reply_settings,
                                                                       embedder):
    settings, docs = reply_settings
    # An index built before sentence vectors: no marker, and a cache that holds the chunks only.
    registry = Registry(settings.registry_path)
    registry.set_meta(MODEL_META, None)
    fresh_cache = settings.with_overrides(embedding_cache_path=settings.data_dir / "old-cache.sqlite3")
    before = Snapshot.load(registry, fresh_cache.embedding_cache_file)
    assert not before.sentences.rows  # nothing to load: words alone choose

    report = Ingestor(fresh_cache, embedder, registry=registry).run([docs])
    assert (report.unchanged, report.chunks_embedded) == (1, 0)
    n_sentences = sum(len(set(sentence_texts(c))) for c in before.chunks.values())
    assert 0 < report.sentences_embedded <= n_sentences
    after = Snapshot.load(registry, fresh_cache.embedding_cache_file)
    assert set(after.sentences.rows) == set(after.chunks)
    assert registry.get_meta(MODEL_META) == embedder.model_id
    again = Ingestor(fresh_cache, embedder, registry=registry).run([docs])
    assert again.sentences_embedded == 0
