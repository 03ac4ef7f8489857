"""Plain-text decoding: a text file's bytes → ``(text, encoding)``, the encoding *detected from the bytes*.

Government files arrive as UTF-8, GBK or UTF-16 from Windows tools, with and without BOMs: BOMs
first, then strict UTF-8, then the NUL-byte pattern of UTF-16, then strict GB18030 with a check
that the result is mostly common Chinese characters (GB18030 decodes many non-Chinese byte strings
without error, so a clean decode alone proves little), then charset-normalizer as a last resort.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from assistant.reading.raw import LoadError
from assistant.text import is_cjk

__all__ = ["decode_text"]

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
