"""Word (.docx): paragraphs and tables in document order → text, and the document's title property."""

from __future__ import annotations

from pathlib import Path

from assistant.reading.raw import LoadError

__all__ = ["docx_to_text"]

def docx_to_text(path: Path) -> tuple[str, str | None]:
    """Paragraphs and tables in document order; table cells separated by tabs, rows by lines."""
    try:
        import docx
        from docx.table import Table

        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 — not a zip, not a Word document, corrupt XML …
        raise LoadError(f"无法读取 Word 文档 / cannot read the Word document: {exc}") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_docx_table_lines(block))
        else:
            lines.append(block.text.strip())
    text = "\n".join(line for line in lines if line.strip())
    title = (document.core_properties.title or "").strip() or None
    return text, title


def _docx_table_lines(table) -> list[str]:
    lines = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        line = "\t".join(c for c in cells if c)
        if line:
            lines.append(line)
    return lines
