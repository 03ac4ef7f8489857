"""A parser change re-parses on the next ingest (the parser version is in every content hash):
document fields and chunks are rewritten, unchanged chunk texts are not embedded again; and a
registry written before the header column existed still opens. Real model, embedded Chroma."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.index import ingest
from assistant.index.ingest import Ingestor, parser_version
from assistant.index.registry import Registry
from assistant.index.vectorstore import ChromaVectorStore
from assistant.schema import HeaderFacts

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reply-616-guiyang.txt"
DEV_DOCS = ROOT.parent / "shared" / "data" / "replies-dev" / "docs"
# GB18030, Markdown, HTML: one of each loader.
DEV_NAMES = ("changsha-edu-zx0123.txt", "wenzhou-food-safety-zx0264.md", "sichuan-env-water-rd408.html")


@pytest.fixture
def settings(tmp_path, model_settings):
    return model_settings.with_overrides(data_dir=tmp_path / "data", models_path=model_settings.models_dir,
                                         embedding_cache_path=tmp_path / "cache.sqlite3")


@pytest.fixture
def docs_dir(tmp_path):
    if not DEV_DOCS.is_dir():
        pytest.skip("replies-dev is not on this machine")
    folder = tmp_path / "docs"
    folder.mkdir()
    for source in (SEED, *(DEV_DOCS / name for name in DEV_NAMES)):
        shutil.copy(source, folder / source.name)
    return folder


def _old_parser(parse):
    """The parser as it was before header facts existed: same text and chunks, no facts."""
    def parse_reply(raw):
        doc = parse(raw)
        doc.header = HeaderFacts()
        return doc
    return parse_reply


def test_parser_change_reparses_without_re_embedding(settings, docs_dir, embedder, monkeypatch):
    with monkeypatch.context() as old:
        old.setattr(ingest, "parse_reply", _old_parser(ingest.parse_reply))
        old.setattr(ingest, "parser_version", lambda: "old-parser")
        first = Ingestor(settings, embedder).run([docs_dir])
    assert (first.added, first.updated, first.unchanged) == (4, 0, 0)
    registry = Registry(settings.registry_path)
    assert registry.document("sichuan-env-water-rd408").header == HeaderFacts().as_dict()
    ids = registry.chunk_ids()

    second = Ingestor(settings, embedder).run([docs_dir])  # the current parser
    assert (second.added, second.updated, second.unchanged) == (0, 4, 0)
    # Only the four cards, which now state the facts, are new text; every other chunk comes from the cache.
    assert second.chunks_embedded == 4, "unchanged chunk texts come from the embedding cache"
    assert all("答复单位：" in c.text for c, _ in registry.iter_chunks() if c.kind == "card")
    sichuan = registry.document("sichuan-env-water-rd408").header
    assert (sichuan["doc_number"], sichuan["date"], sichuan["phone"]) == ("川环建函〔2024〕72号", "2024-08-09",
                                                                         "028-80589326")
    assert registry.document("wenzhou-food-safety-zx0264").as_dict()["header"]["proposer_count"] == 5
    now = registry.chunk_ids()
    assert now == ChromaVectorStore(settings).ids()  # both sides rewritten alike
    cards = {c.chunk_id for c, _ in registry.iter_chunks() if c.kind == "card"}
    assert len(cards) == 4 and now - cards == ids - (ids - now), "only the cards' ids (their text) changed"

    third = Ingestor(settings, embedder).run([docs_dir])
    assert (third.updated, third.unchanged, third.chunks_embedded) == (0, 4, 0)


def test_parser_version_is_stable_and_part_of_the_content_hash(settings, monkeypatch):
    from assistant.reading.loaders import RawText

    raw = RawText(doc_id="d", text="正文。", source="d.txt")
    assert parser_version() == parser_version() and len(parser_version()) == 16
    before = ingest.content_hash(raw, settings)
    monkeypatch.setattr(ingest, "parser_version", lambda: "another")
    assert ingest.content_hash(raw, settings) != before


def test_registry_written_before_the_header_column_opens(tmp_path):
    path = tmp_path / "registry.sqlite3"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
            title TEXT NOT NULL, suggestion_no TEXT NOT NULL DEFAULT '', session TEXT NOT NULL DEFAULT '',
            proposer TEXT NOT NULL DEFAULT '', units TEXT NOT NULL DEFAULT '', n_chunks INTEGER NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}');
        INSERT INTO documents VALUES ('a', 'a.txt', 'h', '标题', '第1号', '', '', '', 0, '{}');
    """)
    con.commit()
    con.close()
    registry = Registry(path)
    record = registry.document("a")
    assert record is not None and (record.title, record.suggestion_no, record.header) == ("标题", "第1号", {})
    assert Registry(path).documents()[0].as_dict()["header"] == {}  # opening twice: migrated once
