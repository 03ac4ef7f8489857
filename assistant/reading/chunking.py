"""Chunking: :class:`ReplyDocument` → :class:`Chunk` list, one chunk per leaf section.

The unit of retrieval is the unit a reader cites: an item ("三、三是"), a heading's lead paragraph
("一、"), a paragraph of an unnumbered body ("第3段"), the introduction, the closing ("结尾" for the
thanks, "落款" for the signature, date and contact) — plus a *document card* that states the header
fields (proposer, number, session, handling units) in one place, so "谁提的建议？" has a chunk to find.

* Nothing is merged across sections, and tiny leaves stay separate: a three-line item is still
  its own citation.
* A leaf longer than ``max_chars`` is cut at sentence ends (whole paragraphs kept together where
  they fit, piece sizes balanced), a single sentence longer than that at commas, and only a
  clause longer than that mid-text — so every chunk's ``text`` is at most ``max_chars``. The card
  is exempt: it is a handful of short lines and is never split.
* ``text`` is the section as written (what users see); ``index_text`` — what is embedded and
  keyword-indexed — puts the document title and the ancestors' headings in front of it:
  ``"<title> > 一、关于……的建议 > (二)推进要素市场一体化建设\\n二是……"``. A later piece of a
  split leaf also names the leaf's own label, since its text no longer starts with it.

Chunk ids are ``"<doc_id>:<16 hex digits>"``, the digits a SHA-1 of what the chunk *is*: kind,
section path, ``index_text`` and the document-level metadata stored with it (number, session,
proposer, units). Why not the chunk's position: inserting or deleting one section would shift
every later position and so every later id, forcing a re-embed of the whole document. With
content ids, re-ingesting an unchanged file gives the same ids, and editing one section changes
only that section's chunk ids (or, when the edit is to a heading, the ids of the chunks under
it, whose ``index_text`` really did change). Because the id covers everything the vector store
keeps per chunk except its position (``order``, ``start``, ``end`` — those move when an earlier
section is edited and live authoritatively in the registry), an unchanged id never points at a
stale vector. Identical chunks within one document get ``-2``, ``-3`` … suffixes in order.
"""

from __future__ import annotations

import hashlib
import math
import re

from assistant.reading.header import FIELD_ALIASES
from assistant.schema import Chunk, ReplyDocument, Section, join_section_path
from assistant.text import split_sentences

__all__ = ["card_text", "chunk_document", "split_text"]

_CLAUSE_END = re.compile(r"[，,、：:]")


def card_text(doc: ReplyDocument) -> str:
    """The document card: what the header and closing lines say, as "name：value" lines ("" when the
    document says none of it). Values are as written where the header wrote them (王德贵委员, 黄志坚委员等5人,
    六盘水市民政局（主办）); the reply's own facts (issuer, 文号, 签发, 联系人 …) follow, so that a question
    about them is answered from one cited place for a reply of any shape."""
    f, facts = doc.fields, doc.header
    main = f.get("主办单位") or doc.main_unit
    # "承办单位：X（主办）、Y（协办）" already names the co-handling unit beside the lead one
    co = f.get("会办单位") or ("" if doc.co_units and doc.co_units in main else doc.co_units)
    lines = [f"{_label(doc, name, value)}：{value}" for name, value in (
        ("建议提案标题", f.get("建议提案标题", "")),
        ("建议提案编号", doc.suggestion_no or f.get("建议提案编号", "")),
        ("代表提案者", f.get("代表提案者") or doc.proposer),
        ("会议届次", doc.session),
        ("主办单位", main),
        ("会办单位", co),
    ) if value]
    if not lines:
        return ""
    lines += [f"{name}：{value}" for name, value in _fact_lines(facts) if value]
    lines.append(f"复文标题：{f.get('复文标题') or doc.title}")
    return "\n".join(lines)


def _label(doc: ReplyDocument, name: str, value: str) -> str:
    """The name the document writes the field under when it writes "name：value" ("提案人：覃海燕委员"),
    else the canonical name: a citation of the card quotes the document's own words."""
    names = "|".join(map(re.escape, sorted(FIELD_ALIASES.get(name, (name,)), key=len, reverse=True)))
    written = re.search(rf"(?<![\u4e00-\u9fff])({names})[ \u3000]*[:：][ \t\u3000*]*{re.escape(value[:12])}", doc.text)
    return written.group(1) if written else name


def _fact_lines(facts) -> list[tuple[str, str]]:
    """The facts of :class:`~assistant.schema.HeaderFacts` the card states, in reading order."""
    office = f"（{facts.contact_office}）" if facts.contact and facts.contact_office else ""
    contact = facts.contact + office
    return [("答复单位", facts.issuer), ("类别", facts.kind), ("办理结果", facts.result),
            ("文号", facts.doc_number), ("签发人", facts.signer), ("签发日期", _chinese_date(facts.date)),
            ("联系人", contact), ("联系电话", facts.phone), ("抄送", "、".join(facts.cc))]


def _chinese_date(iso: str) -> str:
    """"2024-06-26" → "2024年6月26日", as replies write dates ("" stays "")."""
    parts = iso.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return iso
    return f"{int(parts[0])}年{int(parts[1])}月{int(parts[2])}日"


def chunk_document(doc: ReplyDocument, max_chars: int = 400) -> list[Chunk]:
    """Chunks in document order: card, intro, every leaf section (split if long), closing."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    builder = _Builder(doc, max_chars)
    card = card_text(doc)
    if card:
        body_start = min((s.start for s in _body_parts(doc)), default=0)
        builder.add("card", "", card, 0, body_start, heading_path=[])
    if doc.intro is not None:
        builder.add_section("intro", doc.intro, "", [])
    for top in doc.sections:
        for leaf, ancestors in _leaves(top, []):
            path = [_heading_of(a) for a in ancestors]
            builder.add_section("section", leaf, join_section_path(leaf.path), path)
    if doc.closing is not None:
        for leaf in doc.closing.leaves():  # 结尾 (thanks), 落款 (signature, date, contact)
            builder.add_section("closing", leaf, join_section_path(leaf.path), [])
    return builder.chunks


def _body_parts(doc: ReplyDocument) -> list[Section]:
    parts = [doc.addressee, doc.intro, *doc.sections, doc.closing]
    return [p for p in parts if p is not None]


def _leaves(node: Section, ancestors: list[Section]) -> list[tuple[Section, list[Section]]]:
    """Leaves with their proper ancestors; a ``label == ""`` lead child lists its parent too."""
    if not node.children:
        return [(node, ancestors)]
    out = []
    for child in node.children:
        out.extend(_leaves(child, ancestors + [node]))
    return out


def _heading_of(section: Section) -> str:
    return f"{section.label}{section.heading}" if section.heading else section.label


class _Builder:
    def __init__(self, doc: ReplyDocument, max_chars: int):
        self.doc = doc
        self.max_chars = max_chars
        self.chunks: list[Chunk] = []
        self._used: dict[str, int] = {}

    def add_section(self, kind: str, section: Section, label: str, heading_path: list[str]) -> None:
        own = _heading_of(section) if section.label else ""
        for i, (a, b) in enumerate(split_text(section.text, self.max_chars)):
            path = heading_path + ([own] if i > 0 and own else [])
            self.add(kind, label, section.text[a:b], section.start + a, section.start + b, path)

    def add(self, kind: str, label: str, text: str, start: int, end: int, heading_path: list[str]) -> None:
        doc = self.doc
        prefix = " > ".join([doc.title, *[h for h in heading_path if h]])
        index_text = f"{prefix}\n{text}"
        units = doc.handling_units
        identity = (kind, label, index_text, doc.suggestion_no, doc.session, doc.proposer, units)
        digest = hashlib.sha1("\x00".join(identity).encode("utf-8")).hexdigest()[:16]
        chunk_id = f"{doc.doc_id}:{digest}"
        seen = self._used.get(chunk_id, 0)
        self._used[chunk_id] = seen + 1
        if seen:
            chunk_id = f"{chunk_id}-{seen + 1}"
        self.chunks.append(Chunk(
            chunk_id=chunk_id, doc_id=doc.doc_id, doc_title=doc.title, text=text, index_text=index_text,
            section=label, kind=kind, order=len(self.chunks), start=start, end=end,
            suggestion_no=doc.suggestion_no, session=doc.session, proposer=doc.proposer, units=units,
            source=doc.source,
        ))


# ---- splitting ------------------------------------------------------------------------------------


def split_text(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Spans of ``text`` (each at most ``max_chars`` long) cut at the gentlest boundary available.

    Units are sentences (a sentence too long on its own is cut at commas, a clause too long at
    ``max_chars``); units are packed greedily up to a balanced target size so a 410-character
    section becomes two pieces of ~205 rather than 400 + 10, and a piece prefers to end where a
    paragraph ends once it is half full.

    >>> t = "一是甲。二是乙乙。\\n三是丙丙丙。"
    >>> [t[a:b] for a, b in split_text(t, 10)]
    ['一是甲。二是乙乙。', '三是丙丙丙。']
    """
    stripped = text.strip()
    if not stripped:
        return []
    lead = len(text) - len(text.lstrip())
    if len(stripped) <= max_chars:
        return [(lead, lead + len(stripped))]
    units: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        units.extend(_sentence_units(text, a, b, max_chars))
    pieces_needed = math.ceil(len(stripped) / max_chars)
    target = min(max_chars, math.ceil(len(stripped) / pieces_needed * 1.1))
    pieces: list[tuple[int, int]] = []
    start, end = units[0]
    for a, b in units[1:]:
        size = b - start
        paragraph_break = "\n" in text[end:a]
        if size > max_chars or (end - start >= target) or (paragraph_break and end - start >= target / 2
                                                              and size > target):
            pieces.append((start, end))
            start = a
        end = b
    pieces.append((start, end))
    return pieces


def _sentence_units(text: str, a: int, b: int, max_chars: int) -> list[tuple[int, int]]:
    """One sentence as one unit, or — when longer than ``max_chars`` — its clauses, packed."""
    if b - a <= max_chars:
        return [(a, b)]
    cuts = [m.end() for m in _CLAUSE_END.finditer(text, a, b)]
    clauses, prev = [], a
    for cut in cuts + [b]:
        if cut > prev:
            clauses.append((prev, cut))
            prev = cut
    out: list[tuple[int, int]] = []
    for ca, cb in clauses:
        while cb - ca > max_chars:  # no comma in sight: cut hard
            out.append((ca, ca + max_chars))
            ca += max_chars
        if out and cb - out[-1][0] <= max_chars and out[-1][1] == ca:
            out[-1] = (out[-1][0], cb)
        else:
            out.append((ca, cb))
    return out
