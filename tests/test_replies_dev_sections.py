"""The body structure of every replies-dev document, through the real loaders (GB18030, BOM, CRLF,
Markdown, HTML), against the hand-written labels in fixtures/replies-dev/sections.json; and the
seed's chunks pinned as they were before bodies of any shape (fixtures/seed-chunks.json). No model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.reading.chunking import chunk_document
from assistant.reading.loaders import load_file
from assistant.reading.parser import parse_reply
from assistant.schema import ReplyDocument, Section

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT.parent / "shared" / "data" / "replies-dev" / "docs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = {name: labels for name, labels in
            json.loads((FIXTURES / "replies-dev" / "sections.json").read_text(encoding="utf-8")).items()
            if not name.startswith("_")}
needs_docs = pytest.mark.skipif(not DOCS.is_dir(), reason="replies-dev not available")


def _parse(name: str) -> ReplyDocument:
    [raw] = load_file(DOCS / name)
    return parse_reply(raw)


def _labels(doc: ReplyDocument) -> list[str]:
    leaves = [leaf for top in doc.sections for leaf in top.leaves()]
    leaves += doc.closing.leaves() if doc.closing else []
    return [leaf.path_label for leaf in leaves]


def test_the_fixture_names_every_document():
    if DOCS.is_dir():
        assert sorted(EXPECTED) == sorted(p.name for p in DOCS.iterdir())
    assert len(EXPECTED) == 20


@needs_docs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replies_dev_sections_are_as_written(name):
    assert _labels(_parse(name)) == EXPECTED[name]


def _own_spans(section: Section) -> list[tuple[int, int]]:
    """Where each character of ``section`` is owned: its leaves, and a parent's heading before its first child."""
    if not section.children:
        return [(section.start, section.end)]
    spans = [(section.start, section.children[0].start)]
    for child in section.children:
        spans.extend(_own_spans(child))
    return spans


@needs_docs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_body_character_is_in_one_section_in_order(name):
    doc = _parse(name)
    # The addressee is the reply's frame, not a section (no chunk); it precedes or opens the intro.
    parts = [s for s in (doc.intro,) if s is not None] + doc.sections
    parts += [doc.closing] if doc.closing else []
    spans = [span for part in parts for span in _own_spans(part)]
    assert spans == sorted(spans)
    owner = [0] * len(doc.text)
    for start, end in spans:
        for i in range(start, end):
            owner[i] += 1
    assert max(owner) == 1  # no character in two sections
    body_start = spans[0][0]
    stray = "".join(ch for i, ch in enumerate(doc.text) if i >= body_start and not owner[i] and not ch.isspace())
    assert stray == ""


@needs_docs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_closing_is_its_own_part(name):
    doc = _parse(name)
    chunks = chunk_document(doc)
    closing = [c for c in chunks if c.kind == "closing"]
    assert [c.section for c in closing] == ["结尾", "落款"]
    assert closing[0].text.startswith(("感谢", "衷心感谢", "再次感谢"))
    assert not any("感谢" in c.text[-40:] for c in chunks if c.kind == "section")  # not glued to the last item


def test_seed_chunks_are_as_before():
    [raw] = load_file(ROOT / "corpus" / "reply-616-guiyang.txt")
    pinned = json.loads((FIXTURES / "seed-chunks.json").read_text(encoding="utf-8"))["chunks"]
    got = [{"kind": c.kind, "section": c.section, "start": c.start, "end": c.end, "text": c.text}
           for c in chunk_document(parse_reply(raw))]
    assert got == pinned
