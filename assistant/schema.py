"""The units of data that flow through the assistant.

files → ``ReplyDocument`` (header fields + a tree of ``Section``) → ``Chunk`` → index →
retrieval (``ScoredChunk``) → ``Answer`` (with ``Citation`` objects).

``Answer`` and ``Citation`` are pydantic models because they are the public contract
(``assistant ask --json``, ``POST /api/chat``, ``assistant eval --out``); the rest are plain
dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field


def join_section_path(parts: tuple[str, ...] | list[str]) -> str:
    """Human form of a section path: ``("一、", "(二)", "二是")`` → ``"一、(二) 二是"``.

    Levels are separated by a space, except after a label that already ends in ``、``.
    """
    out = ""
    for part in parts:
        if out and not out.endswith("、"):
            out += " "
        out += part
    return out


@dataclass
class Section:
    """One node of a document's section tree.

    ``label`` is the numbering as written (``一、``, ``(二)``, ``二是``, ``1.``, ``(1)``, ``第三条``);
    ``heading`` the heading text after the label (may be empty for inline items);
    ``text`` the node's full text as written, label included; ``start``/``end`` are character
    offsets of ``text`` in the original document text.
    """

    label: str
    heading: str
    text: str
    start: int
    end: int
    path: tuple[str, ...] = ()
    children: list[Section] = field(default_factory=list)

    @property
    def path_label(self) -> str:
        return join_section_path(self.path)

    def leaves(self) -> list[Section]:
        if not self.children:
            return [self]
        out: list[Section] = []
        for child in self.children:
            out.extend(child.leaves())
        return out


@dataclass
class HeaderFacts:
    """What a reply's header and closing lines say about it, beyond the fields ``ReplyDocument``
    has always had. Values are as written except where noted; a fact the text does not state is
    empty (never guessed)."""

    issuer: str = ""  # the office that replies: "遵义市教育局"
    kind: str = ""  # "人大代表建议" | "政协提案" | ""
    proposers: list[str] = field(default_factory=list)  # names, without 代表/委员: ["黄志坚"]
    proposer_count: int | None = None  # "黄志坚委员等5人" → 5
    addressee: str = ""  # the salutation without its colon: "罗春燕代表"
    result_class: str = ""  # 办理结果 class: "A" | "B" | "C"
    result: str = ""  # 办理结果 as written: "B类（正在解决）"
    doc_number: str = ""  # 文号: "长教提复〔2024〕15号"
    signer: str = ""  # 签发人
    date: str = ""  # signing date (签发日期 or the closing date line), YYYY-MM-DD
    published: str = ""  # a web page's 发布日期, YYYY-MM-DD
    contact: str = ""  # 联系人: "方晓东"
    contact_office: str = ""  # the office after the contact's name: "住房保障处"
    phone: str = ""  # 联系电话: "0571-87052386"
    cc: list[str] = field(default_factory=list)  # 抄送, one unit each

    def as_dict(self) -> dict[str, Any]:
        return {name: (list(value) if isinstance(value, list) else value) for name, value in vars(self).items()}


@dataclass
class ReplyDocument:
    """A parsed reply (or any other document): header fields and a section tree."""

    doc_id: str
    title: str
    text: str  # the original text, for display and offsets
    source: str = ""  # file path or URL
    fields: dict[str, str] = field(default_factory=dict)  # header fields as written
    suggestion_no: str = ""  # e.g. "第616号"
    session: str = ""  # 会议届次
    proposer: str = ""  # 代表提案者
    main_unit: str = ""  # 主办单位
    co_units: str = ""  # 会办单位
    addressee: Section | None = None  # "凌毅代表:"
    intro: Section | None = None  # text between the addressee and the first section
    sections: list[Section] = field(default_factory=list)  # top-level sections
    closing: Section | None = None  # "衷心感谢……"
    metadata: dict[str, Any] = field(default_factory=dict)
    header: HeaderFacts = field(default_factory=HeaderFacts)  # issuer, kind, 文号, date, contact …

    @property
    def handling_units(self) -> str:
        return "、".join(u for u in (self.main_unit, self.co_units) if u)


@dataclass
class Chunk:
    """The unit of retrieval and citation.

    ``text`` is shown to users (the section as written); ``index_text`` is what is embedded and
    keyword-indexed (document title + heading path + text).
    """

    chunk_id: str
    doc_id: str
    doc_title: str
    text: str
    index_text: str
    section: str = ""  # human section path, e.g. "一、(二) 二是"; "" for the document card
    kind: str = "section"  # "card" | "intro" | "section" | "closing"
    order: int = 0
    start: int = 0
    end: int = 0
    suggestion_no: str = ""
    session: str = ""
    proposer: str = ""
    units: str = ""
    source: str = ""
    # The document's header facts, repeated on each of its chunks (one shared string per document)
    # so that a citation carries them without a lookup; not stored in Chroma, which filters by doc_id.
    issuer: str = ""  # "德阳市卫生健康委员会"
    doc_kind: str = ""  # "人大代表建议" | "政协提案" | ""
    doc_number: str = ""  # 文号: "德卫提复〔2024〕5号"
    date: str = ""  # signing date, else publication date, YYYY-MM-DD

    def metadata(self) -> dict[str, Any]:
        """Flat metadata as stored in Chroma (str/int only)."""
        return {
            "doc_id": self.doc_id,
            "doc_title": self.doc_title,
            "section": self.section,
            "kind": self.kind,
            "order": self.order,
            "start": self.start,
            "end": self.end,
            "suggestion_no": self.suggestion_no,
            "session": self.session,
            "proposer": self.proposer,
            "units": self.units,
            "source": self.source,
        }


@dataclass
class ScoredChunk:
    """A retrieved chunk with the evidence the retriever gathered for it."""

    chunk: Chunk
    score: float  # fused score, higher is better
    dense_score: float | None = None  # cosine similarity, if the vector side found it
    dense_rank: int | None = None
    lexical_score: float | None = None  # BM25 score, if the keyword side found it
    lexical_rank: int | None = None
    coverage: float = 0.0  # idf-weighted share of the question's concepts found in the chunk


class Citation(BaseModel):
    """A source as it appears in an Answer (``citations`` and ``sources`` share this shape)."""

    marker: int = Field(description="the [n] marker in the answer; sources are numbered by rank")
    chunk_id: str
    doc_id: str
    doc_title: str
    suggestion_no: str = ""
    section: str = ""
    text: str = Field(description="the full chunk text as written")
    score: float = 0.0
    start: int = Field(0, description="offset of the chunk in the original document")
    end: int = 0
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="offsets of the supporting sentence(s) within `text`",
    )
    issuer: str = Field("", description="the office that wrote the reply, e.g. 德阳市卫生健康委员会")
    doc_kind: str = Field("", description="人大代表建议 or 政协提案; empty when the reply does not say")
    doc_number: str = Field("", description="the reply's 文号, e.g. 德卫提复〔2024〕5号")
    date: str = Field("", description="the reply's signing (else publication) date, YYYY-MM-DD")

    @classmethod
    def of(cls, marker: int, scored: ScoredChunk, highlights: list[tuple[int, int]] | None = None) -> Citation:
        """The citation of a ranked chunk: source ``marker`` (its rank), with the supporting spans if known."""
        c = scored.chunk
        return cls(marker=marker, chunk_id=c.chunk_id, doc_id=c.doc_id, doc_title=c.doc_title,
                   suggestion_no=c.suggestion_no, section=c.section, text=c.text,
                   score=round(scored.score, 6), start=c.start, end=c.end, highlights=list(highlights or ()),
                   issuer=c.issuer, doc_kind=c.doc_kind, doc_number=c.doc_number, date=c.date)


class Answer(BaseModel):
    """The answer contract shared by the CLI, the HTTP API and the evaluation runner."""

    id: str | None = None
    question: str
    standalone_question: str = ""
    answer: str
    refused: bool = False
    language: str = "zh"
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Citation] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    #: Why it was refused ("no_match", "unknown_number", "no_document", "empty_index"); empty otherwise.
    refusal_reason: str = ""
    #: Set by the web app when it logs the answer: what ``POST /api/feedback`` refers to.
    answer_id: str | None = None
