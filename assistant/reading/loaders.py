"""Loaders: files on disk → :class:`RawText` (the document's text as written, plus a stable id).

One function per format, one entry point (:func:`load_file`) and a streaming reader for bulk
exports (:func:`iter_jsonl`). Everything that can go wrong with a user's file — an unknown
encoding, a binary file renamed ``.txt``, a scanned PDF, an oversized file — is reported as a
:class:`LoadError` whose message says why in Chinese and English, so that ingestion can list the
failure and carry on with the rest of the folder.

Plain-text encodings are *detected from the bytes* (government files arrive as UTF-8, GBK or
UTF-16 from Windows tools, with and without BOMs): BOMs first, then strict UTF-8, then the
NUL-byte pattern of UTF-16, then strict GB18030 with a check that the result is mostly common
Chinese characters (GB18030 decodes many non-Chinese byte strings without error, so a clean
decode alone proves little), then charset-normalizer as a last resort.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.text import is_cjk

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
        text, title = _html_to_text(data)
    elif suffix == ".docx":
        text, title = _docx_to_text(path)
    else:  # .pdf
        text, title = _pdf_to_text(path)
    text = _normalise_newlines(text)
    if not text.strip():
        raise LoadError("文件没有文字内容 / the file contains no text")
    return [RawText(doc_id=slugify(_stem(path)), text=text, source=str(path), title=title)]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")


# ---- plain text: encoding detection -------------------------------------------------------------

_ALLOWED_CONTROLS = set("\t\n\r\f\v\x1b")


def _control_share(text: str) -> float:
    """Share of C0/C1 control characters other than ordinary white space (a binary file's signature)."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)
    return bad / len(text)


@lru_cache(maxsize=65536)
def _is_common(ch: str) -> bool:
    """In GB2312: the 6,763 common hanzi plus the usual CJK punctuation and full-width forms."""
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def _looks_like_chinese_text(text: str) -> bool:
    """Sanity check for a decode that did not fail: most non-ASCII characters are common ones."""
    non_ascii = [ch for ch in text if ord(ch) > 0x7F and not ch.isspace()]
    if not non_ascii:
        return True
    common = sum(1 for ch in non_ascii if _is_common(ch))
    return common / len(non_ascii) >= 0.9


def _looks_like_text(text: str) -> bool:
    """A decode that gives printable text: few controls, no NULs, mostly letters, CJK or ASCII."""
    if "\x00" in text or _control_share(text) > 0.001:
        return False
    sample = [ch for ch in text if not ch.isspace()]
    if not sample:
        return True
    plausible = sum(1 for ch in sample if ch.isascii() or _is_common(ch) or is_cjk(ch))
    return plausible / len(sample) >= 0.9


def _binary_error() -> LoadError:
    return LoadError("文件不是文本（含二进制内容）/ the file is not text (binary content)")


def _utf16_by_nul_pattern(data: bytes) -> str | None:
    """Decode UTF-16 without a BOM: NUL bytes are the high bytes of ASCII (newlines, digits).

    The byte order whose decode reads as text wins; when both do, the side holding more NULs in
    the high-byte position decides.
    """
    if len(data) % 2:
        return None
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    order = ["utf-16-le", "utf-16-be"] if odd >= even else ["utf-16-be", "utf-16-le"]
    for encoding in order:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text) and _looks_like_chinese_text(text):
            return text
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a plain-text file's bytes; returns ``(text, encoding)`` or raises :class:`LoadError`.

    >>> decode_text("贵阳市人民政府".encode("gbk"))
    ('贵阳市人民政府', 'gb18030')
    """
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise LoadError("文件为空 / the file is empty")
    text, encoding = _decode(data)
    if not text.strip():
        raise LoadError("文件为空 / the file is empty")
    if _control_share(text) > 0.001 or "\x00" in text:
        raise _binary_error()
    return text, encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise LoadError(
                    f"文件以 {encoding} 标记开头，但内容不是有效的 {encoding} 文本 / the file starts with "
                    f"a {encoding} byte-order mark but is not valid {encoding} ({exc.reason} at byte {exc.start})"
                ) from None
    if b"\x00" in data:
        text = _utf16_by_nul_pattern(data)
        if text is None:
            raise _binary_error()
        return text, "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            # A file cut off in the middle of its last character: keep everything before it.
            return data[: exc.start].decode("utf-8"), "utf-8"
    try:
        text = data.decode("gb18030")
        if _looks_like_chinese_text(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    if len(data) % 2 == 0:
        for encoding in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _looks_like_text(text) and _looks_like_chinese_text(text):
                return text, encoding
    guessed = _charset_normalizer_guess(data)
    if guessed is not None:
        return guessed
    raise LoadError("无法识别的文件编码 / unrecognised text encoding")


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    """Last resort (Big5, Shift-JIS, cp1252 …), trusted only when the result reads as clean text."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > 0.1:
        return None
    text = str(best)
    if not _looks_like_text(text) or _looks_like_mojibake(text):
        return None
    return text, best.encoding


_MOJIBAKE = re.compile(r"[\u00c0-\u00ef][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6-\u02dc]")


def _looks_like_mojibake(text: str) -> bool:
    """UTF-8 bytes read as Latin-1/cp1252 ("è´µé˜³") — a broken UTF-8 file, not a Latin one."""
    hits = len(_MOJIBAKE.findall(text))
    return hits >= 3 and hits >= 0.02 * len(text)


# ---- HTML -----------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_CHROME_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                "iframe", "button", "select", "input", "textarea", "svg", "canvas", "object", "embed",
                "link", "meta", "head")
# Class/id words that mark page chrome; "header"/"head"/"top"/"bottom" only as whole tokens, because
# "article-header" holds the title.
_CHROME_ATTR = re.compile(
    # distinctive words, anywhere in a token ("mainMenu", "topnav", "bdshare") …
    r"nav|menu|breadcrumb|crumb|footer|copyright|sidebar|side-bar|toolbar|share|qrcode|fenxiang|dqwz|"
    r"xgxx|friend-?link|yqlj|"
    # … and generic ones only as whole words ("search" but not "research")
    r"(?:^|[-_])(?:login|search|banner|skip|location|position|related|ewm)(?:$|[-_\d])",
    re.IGNORECASE,
)
# Layout utility classes that contain a chrome word but hold content ("position-relative").
_LAYOUT_CLASS = re.compile(r"^position-(?:relative|absolute|fixed|static|sticky)$", re.IGNORECASE)
_CHROME_TOKENS = {"header", "head", "top", "bottom", "foot", "topbar", "site-header", "site-footer"}
_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "tr", "table", "tbody",
               "thead", "tfoot", "section", "article", "main", "blockquote", "pre", "dd", "dt", "dl",
               "hr", "center", "figure", "figcaption", "address", "caption"}
# Chrome phrases that survive as text (links styled as buttons); a short line made only of these goes.
_CHROME_PHRASES = re.compile(
    r"打印本页|打印此页|打印|关闭窗口|关闭本页|关闭|分享到|分享|收藏本页|收藏|返回顶部|返回首页|返回|"
    r"字体|字号|默认|大|中|小|微信|微博|QQ空间|QQ|扫一扫在手机打开当前页|扫一扫|【|】|\[|\]|[|｜:：\s]"
)
_FONT_WIDGET = re.compile(r"[【\[]?\s*字[体号][:：]?\s*[【\[]?大[】\]]?\s*[【\[]?中[】\]]?\s*[【\[]?小[】\]]?\s*[】\]]?")
_CHROME_LINES = re.compile(
    r"^(当前位置|您现在的位置|您当前的位置|所在位置|位置)[:：].*|^首页\s*[>＞›»].*|^.*版权所有.*$|"
    r"^.*ICP[备证].*$|^.*公网安备.*$|^网站标识码.*$|^(浏览次数|访问次数|阅读次数|点击数|浏览量)[:：].*$|"
    r"^(上一篇|下一篇)[:：].*$|^网站地图$|^联系我们$|^无障碍$"
)


def _decode_html(data: bytes) -> str:
    match = _META_CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii").lower()
        if declared in ("gb2312", "gbk", "gb_2312-80", "x-gbk"):
            declared = "gb18030"  # the superset: GB2312-labelled pages routinely use GBK characters
        try:
            return data.decode(declared).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)[0]


def _html_to_text(data: bytes) -> tuple[str, str | None]:
    """The main text of a government web page, paragraphs as lines, and its title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_html(data), "lxml")
    title = _html_title(soup)
    body = soup.body or soup
    for tag in body.find_all(_CHROME_TAGS):
        tag.decompose()
    for tag in body.find_all(True):
        if tag.decomposed:
            continue
        if _is_chrome_element(tag):
            tag.decompose()
    for tag in body.find_all(["ul", "ol", "div", "table", "p", "span", "td"]):
        if not tag.decomposed and _is_link_list(tag):
            tag.decompose()
    parts: list[str] = []
    _html_walk(body, parts)
    lines = []
    for line in "".join(parts).split("\n"):
        line = re.sub(r"[ \t\u00a0]*\t[ \t\u00a0]*", "\t", line)
        line = _FONT_WIDGET.sub("", line)
        line = re.sub(r"[ \u00a0]{2,}", " ", line).strip(" \t\u00a0\u3000")
        if not line or _is_chrome_line(line):
            continue
        lines.append(line)
    return "\n".join(lines), title


def _is_chrome_element(tag) -> bool:
    attrs = getattr(tag, "attrs", None)
    if attrs is None:
        return False
    if "hidden" in attrs or re.search(r"display\s*:\s*none", attrs.get("style", "") or "", re.IGNORECASE):
        return True
    role = (attrs.get("role") or "").lower()
    if role in ("navigation", "banner", "contentinfo", "search", "menu", "menubar"):
        return True
    tokens = list(attrs.get("class") or []) + ([attrs["id"]] if attrs.get("id") else [])
    for token in tokens:
        token = str(token).lower()
        if token in _CHROME_TOKENS or (_CHROME_ATTR.search(token) and not _LAYOUT_CLASS.match(token)):
            return True
    return False


def _is_link_list(tag) -> bool:
    """A block that is mostly links (menus, "related articles", footers without markup)."""
    links = tag.find_all("a")
    if len(links) < 3:
        return False
    text = tag.get_text(" ", strip=True)
    if not text:
        return False
    link_text = sum(len(a.get_text(" ", strip=True)) for a in links)
    return link_text / len(text) >= 0.8


def _is_chrome_line(line: str) -> bool:
    if _CHROME_LINES.match(line):
        return True
    return len(line) <= 40 and not _CHROME_PHRASES.sub("", line)


def _html_walk(node, out: list[str]) -> None:
    from bs4 import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

    for child in node.children:
        if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            out.append(re.sub(r"[ \t\r\n\f]+", " ", str(child)))
            continue
        name = child.name
        if name == "br":
            out.append("\n")
        elif name in ("td", "th"):
            _html_walk(child, out)
            out.append("\t")
        elif name == "pre":
            out.append("\n" + child.get_text() + "\n")
        elif name in _BLOCK_TAGS:
            out.append("\n")
            _html_walk(child, out)
            out.append("\n")
        else:
            _html_walk(child, out)


def _html_title(soup) -> str | None:
    """An <h1> that the <title> confirms, else the <title>'s longest part, else the first <h1>."""
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    headings = [h.get_text(" ", strip=True) for h in soup.find_all("h1")]
    headings = [h for h in headings if h]
    confirmed = [h for h in headings if len(h) >= 4 and h in page_title]
    if confirmed:
        return max(confirmed, key=len)
    if page_title:
        parts = [p.strip() for p in re.split(r"\s*(?:_|\||｜|--|—|-\s)\s*", page_title) if p.strip()]
        return max(parts, key=len) if parts else page_title
    return headings[0] if headings else None


# ---- DOCX -----------------------------------------------------------------------------------------


def _docx_to_text(path: Path) -> tuple[str, str | None]:
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


# ---- PDF --------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^[-—–\s]*(第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+(\s*/\s*\d+)?)[-—–\s]*$")
_LINE_END = set("。！？；：:!?;”」』）)》")
_LABEL_START = re.compile(r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[.．、]|第.{1,4}[章节条]|[一二三四五六七八九十]+是)")


def _pdf_to_text(path: Path) -> tuple[str, str | None]:
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
    lines = [line.strip() for line in _normalise_newlines(page).split("\n")]
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
        text=_normalise_newlines(text),
        source=f"{path}#{lineno}",
        title=title.strip() if isinstance(title, str) and title.strip() else None,
        metadata=metadata,
    )
