"""Which documents a listing or a search is about (issuer, kind, year, number), and their order.

One rule for both: ``Registry.find`` lists what matches, the retriever's filters search only it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.reading.numbers import normalize_suggestion_no

if TYPE_CHECKING:
    from assistant.index.registry import DocumentRecord

# English names for the two kinds of reply (a filter may use either language).
_KIND_ALIASES = {"suggestion": "人大代表建议", "proposal": "政协提案"}


@dataclass(frozen=True)
class DocumentQuery:
    """Which documents a listing or a search is about; every criterion given must hold (AND).

    ``issuer`` is a part of the issuing office's name (德阳 matches 德阳市卫生健康委员会); ``kind`` a
    part of the kind (建议, 提案, 政协提案; or suggestion / proposal); ``year`` the year of the
    reply's date; ``number`` a suggestion number in any spelling (0032, 第３２号 → 第32号).
    """

    issuer: str = ""
    kind: str = ""
    year: int | None = None
    number: str = ""  # canonical (第32号); as given when it holds no number, so that it matches none

    @classmethod
    def of(cls, issuer: str | None = None, kind: str | None = None, year: int | str | None = None,
           number: str | None = None) -> DocumentQuery:
        kind = (kind or "").strip()
        if year not in (None, "") and not str(year).strip().isdigit():
            raise ValueError(f"year must be a number such as 2024, not {year!r}")
        return cls(issuer=(issuer or "").strip(), kind=_KIND_ALIASES.get(kind.lower(), kind),
                   year=int(year) if year not in (None, "") else None,
                   number=normalize_suggestion_no(number or "") or (number or "").strip())

    def __bool__(self) -> bool:
        return bool(self.issuer or self.kind or self.year is not None or self.number)

    def matches(self, record: DocumentRecord) -> bool:
        return ((not self.issuer or self.issuer in record.issuer)
                and (not self.kind or self.kind in record.doc_kind)
                and (self.year is None or record.date[:4] == str(self.year))
                and (not self.number or self.number == record.suggestion_no))

    def describe(self, language: str = "zh") -> str:
        """The criteria in words, for a refusal: "发文单位含“德阳”、2023年"."""
        if language == "zh":
            parts = [f"发文单位含“{self.issuer}”" if self.issuer else "", self.kind,
                     f"{self.year}年" if self.year is not None else "", self.number]
            return "、".join(p for p in parts if p)
        parts = [f"issuer containing '{self.issuer}'" if self.issuer else "",
                 f"kind {self.kind}" if self.kind else "",
                 f"year {self.year}" if self.year is not None else "", f"number {self.number}" if self.number else ""]
        return ", ".join(p for p in parts if p)


def by_date(records: Iterable[DocumentRecord]) -> list[DocumentRecord]:
    """Newest first, undated last; then by title (and id, so that the order is stable)."""
    by_title = sorted(records, key=lambda r: (r.title, r.doc_id))
    return sorted(by_title, key=lambda r: r.date, reverse=True)  # stable: equal dates keep title order
