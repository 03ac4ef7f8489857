"""Loaders: files on disk → :class:`RawText` (the document's text as written, plus a stable id).

One entry point (:func:`load_file`) that dispatches by suffix to one module per format
(``encoding`` for plain text, ``html``, ``word``, ``pdf``), file discovery (:func:`iter_files`) and
a streaming reader for bulk exports (:func:`iter_jsonl`). Everything that can go wrong with a
user's file — an unknown encoding, a binary file renamed ``.txt``, a scanned PDF, an oversized
file — is reported as a :class:`LoadError` whose message says why in Chinese and English, so that
ingestion can list the failure and carry on with the rest of the folder.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant.reading.encoding import decode_text
from assistant.reading.html import html_to_text
from assistant.reading.pdf import pdf_to_text
from assistant.reading.raw import LoadError, RawText, normalise_newlines
from assistant.reading.word import docx_to_text

__all__ = [
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "LoadError",
    "RawText",
    "decode_text",
    "iter_files",
    "iter_jsonl",
    "load_file",
    "slugify",
]

#: Files larger than this are refused (a reply is a few kilobytes; 20 MB is a mistake or a dump).
#: JSONL exports are streamed and exempt.
MAX_FILE_BYTES = 20 * 1024 * 1024

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".docx", ".pdf", ".jsonl", ".jsonl.gz")


# ---- file discovery -----------------------------------------------------------------------------


def suffix_of(path: Path) -> str:
    """The supported suffix of ``path`` (``.jsonl.gz`` counts as one), lower-cased, or its last suffix."""
    name = path.name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _is_hidden(name: str) -> bool:
    # ".git", ".DS_Store", and Word's lock files "~$reply.docx".
    return name.startswith((".", "~$"))


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files to load under ``paths``, each once, in a stable order.

    Folders are walked recursively in sorted order, keeping supported suffixes only and skipping
    hidden files and folders. A file named explicitly is always yielded, whatever its suffix, so
    that ``load_file`` can tell the user why it is not supported instead of ignoring it silently.
    """
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path)
                if any(_is_hidden(part) for part in rel.parts) or not file.is_file():
                    continue
                if suffix_of(file) not in SUPPORTED_SUFFIXES:
                    continue
                key = file.resolve()
                if key not in seen:
                    seen.add(key)
                    yield file
        elif path.is_file():
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def slugify(stem: str) -> str:
    """A stable document id from a file stem: CJK kept, white space → ``-``, lower case.

    >>> slugify("Reply 616（贵阳市）")
    'reply-616-贵阳市'
    """
    s = unicodedata.normalize("NFKC", stem).strip().lower()
    s = re.sub(r"\s+", "-", s)
    s = re.sub(r"[^\w.\-]+", "-", s)  # \w keeps CJK characters
    s = re.sub(r"-{2,}", "-", s).strip("-.")
    return s or "document"


def _stem(path: Path) -> str:
    suffix = suffix_of(path)
    name = path.name
    return name[: -len(suffix)] if suffix and name.lower().endswith(suffix) else path.stem


# ---- the entry point ----------------------------------------------------------------------------


def load_file(path: Path) -> list[RawText]:
    """Load one file; a JSONL file gives one :class:`RawText` per line.

    Raises :class:`LoadError` with a bilingual reason. For JSONL, any bad line fails the whole
    call (use :func:`iter_jsonl` to skip bad lines and keep the rest).
    """
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"文件不存在：{path} / no such file: {path}")
    suffix = suffix_of(path)
    if suffix in (".jsonl", ".jsonl.gz"):
        records: list[RawText] = []
        for item in iter_jsonl(path):
            if isinstance(item, LoadError):
                raise item
            records.append(item)
        return records
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            f"不支持的文件类型“{suffix or path.name}”（支持：{'、'.join(SUPPORTED_SUFFIXES)}）/ "
            f"unsupported file type '{suffix or path.name}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LoadError(
            f"文件过大：{size / 1024 / 1024:.1f} MB，上限 {MAX_FILE_BYTES // 1024 // 1024} MB / "
            f"file too large: {size / 1024 / 1024:.1f} MB, the limit is {MAX_FILE_BYTES // 1024 // 1024} MB"
        )
    data = path.read_bytes()
    if suffix in (".txt", ".md"):
        text, _encoding = decode_text(data)
        title = None
    elif suffix in (".html", ".htm"):
        text, title = html_to_text(data)
    elif suffix == ".docx":
        text, title = docx_to_text(path)
    else:  # .pdf
        text, title = pdf_to_text(path)
    text = normalise_newlines(text)
    if not text.strip():
        raise LoadError("文件没有文字内容 / the file contains no text")
    return [RawText(doc_id=slugify(_stem(path)), text=text, source=str(path), title=title)]


# ---- JSONL --------------------------------------------------------------------------------------------


def iter_jsonl(path: Path) -> Iterator[RawText | LoadError]:
    """Stream a ``.jsonl`` / ``.jsonl.gz`` export: one :class:`RawText` per good line.

    A bad line is yielded as a :class:`LoadError` naming its line number, and reading goes on; a
    stream that breaks off (truncated gzip) yields one final error. Records need ``text``; ``id``
    becomes the doc id (missing: ``<file slug>-<line number>``), ``title`` the title, and other
    scalar fields (``url`` …) go into metadata.
    """
    path = Path(path)
    gz = path.name.lower().endswith(".gz")
    try:
        handle = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115 — closed below
    except OSError as exc:
        raise LoadError(f"无法打开文件 / cannot open the file: {exc}") from None
    file_slug = slugify(_stem(path))
    lineno = 0
    with handle:
        try:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield _jsonl_record(line, lineno, path, file_slug)
        except (OSError, EOFError, zlib.error) as exc:
            yield LoadError(
                f"第 {lineno + 1} 行起文件损坏或被截断 / the file is corrupt or truncated from line "
                f"{lineno + 1}: {exc}"
            )


def _jsonl_record(line: bytes, lineno: int, path: Path, file_slug: str) -> RawText | LoadError:
    where = f"第 {lineno} 行 / line {lineno}"
    try:
        obj = json.loads(line.decode("utf-8-sig" if lineno == 1 else "utf-8"))
    except UnicodeDecodeError:
        return LoadError(f"{where}：不是 UTF-8 文本 / not UTF-8 text")
    except json.JSONDecodeError as exc:
        return LoadError(f"{where}：JSON 格式错误 / invalid JSON ({exc.msg}, column {exc.colno})")
    if not isinstance(obj, dict):
        return LoadError(f"{where}：应为 JSON 对象 / expected a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return LoadError(f"{where}：缺少 text 字段或为空 / missing or empty \"text\"")
    raw_id = obj.get("id")
    doc_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) and str(raw_id).strip() else ""
    title = obj.get("title")
    metadata: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("id", "text", "title"):
            continue
        if isinstance(value, bool):
            metadata[key] = int(value)
        elif isinstance(value, (str, int, float)):
            metadata[key] = value
    return RawText(
        doc_id=doc_id or f"{file_slug}-{lineno}",
        text=normalise_newlines(text),
        source=f"{path}#{lineno}",
        title=title.strip() if isinstance(title, str) and title.strip() else None,
        metadata=metadata,
    )
