"""PDF: the text layer, page by page, with lines the PDF wrapped at the page width joined back."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.reading.raw import LoadError, normalise_newlines

__all__ = ["pdf_to_text"]

_PAGE_NUMBER = re.compile(r"^[-—–\s]*(第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+(\s*/\s*\d+)?)[-—–\s]*$")
_LINE_END = set("。！？；：:!?;”」』）)》")
_LABEL_START = re.compile(r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[.．、]|第.{1,4}[章节条]|[一二三四五六七八九十]+是)")


def pdf_to_text(path: Path) -> tuple[str, str | None]:
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("PDF 已加密 / the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 — pypdf raises many types on malformed files
        raise LoadError(f"无法解析 PDF / cannot parse the PDF: {exc}") from None
    text = "\n".join(_unwrap_pdf_lines(page) for page in pages)
    if not re.search(r"\w", text):
        raise LoadError("PDF 没有文字层（可能是扫描件）/ the PDF has no text layer (scanned?)")
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else None
    return text, title


def _unwrap_pdf_lines(page: str) -> str:
    """Rejoin lines the PDF wrapped at the page width; drop bare page numbers.

    A line that fills the measure (close to the page's longest lines) and does not end a sentence
    continues on the next line, unless that line starts a new numbered section.
    """
    lines = [line.strip() for line in normalise_newlines(page).split("\n")]
    lines = [line for line in lines if line and not _PAGE_NUMBER.match(line)]
    if not lines:
        return ""
    lengths = sorted(len(line) for line in lines)
    measure = lengths[int(0.9 * (len(lengths) - 1))]
    out: list[str] = []
    for line in lines:
        if out:
            prev = out[-1]
            wrapped = (measure >= 15 and len(prev) >= 0.85 * measure and prev[-1] not in _LINE_END
                       and not _LABEL_START.match(line))
            if wrapped:
                glue = " " if prev[-1].isascii() and prev[-1].isalnum() and line[0].isascii() else ""
                out[-1] = prev + glue + line
                continue
        out.append(line)
    return "\n".join(out)
