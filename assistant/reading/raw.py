"""What every loader returns (:class:`RawText`) or raises (:class:`LoadError`), shared by the format modules."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LoadError", "RawText", "normalise_newlines"]


@dataclass
class RawText:
    """One document's text as loaded, before any parsing."""

    doc_id: str  # stable: slug of the file stem, or the JSONL record's "id"
    text: str  # original text (for display); line endings normalised to \n
    source: str  # file path (or path#line for JSONL records)
    title: str | None = None
    metadata: dict = field(default_factory=dict)  # url and extra JSONL fields (str/int/float only)


class LoadError(Exception):
    """A file (or one JSONL line) that cannot be turned into text; the message says why (zh / en)."""


def normalise_newlines(text: str) -> str:
    """CRLF, CR and the Unicode line/paragraph separators → ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
