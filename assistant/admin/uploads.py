"""Checking an uploaded file before anything is stored, and its parse preview.

Every check runs on the bytes in memory, before the file touches the uploads folder, and a
failure is an :class:`UploadRejected` whose message says why (Chinese, then English):

* the name: no folders (``../../x.txt``, ``a/b.txt``, ``C:\\x``), no hidden or control characters,
  a supported suffix (txt, md, html, htm, docx, pdf);
* the size (``admin_max_upload_bytes``);
* a .docx: a real zip (an encrypted Word file is an OLE container, not a zip), no encrypted
  member, no macros (``vbaProject.bin``), unpacked size and ratio within limits (a zip bomb is
  refused before a single member is inflated);
* the text: the same loaders as ``assistant ingest`` (so a PDF without a text layer, a binary
  renamed .txt or an unknown encoding are refused as the CLI would).

The preview is what the assistant will cite: the header fields, the section tree and warnings
(no title found, no numbering, no suggestion number, a guessed encoding).
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from assistant.admin.errors import AdminError
from assistant.reading.loaders import LoadError, decode_text, load_file, suffix_of
from assistant.reading.parser import parse_reply
from assistant.schema import ReplyDocument, Section
from assistant.settings import Settings

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_PARAGRAPH_LABEL = re.compile(r"^第\d+段$")
_PLAIN_ENCODINGS = {"utf-8", "utf-8-sig", "ascii", "gb18030", "gbk", "gb2312", "utf-16", "utf-32", "big5"}


class UploadRejected(AdminError):
    """A file that is not stored (400): ``code`` for machines, ``message`` Chinese then English."""

    def __init__(self, filename: str, code: str, message: str):
        super().__init__(400, code, message)
        self.filename = filename


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    data: bytes
    preview: dict[str, Any]


def safe_name(filename: str) -> str:
    """The upload's file name if it is a plain name with a supported suffix, else UploadRejected."""
    name = unicodedata.normalize("NFC", filename or "")
    plain = PurePosixPath(name).name == name and PureWindowsPath(name).name == name
    if not name or not plain or name in (".", "..") or ".." in name or name.startswith(("~", ".")) \
            or any(unicodedata.category(ch)[0] == "C" for ch in name) or len(name) > 200:
        raise UploadRejected(filename, "unsafe_name",
                             f"文件名“{filename}”不安全：请只用文件名本身，不含路径、开头的点或控制字符。/ "
                             f"The file name '{filename}' is not safe: a plain name, no folders, no leading dot.")
    if suffix_of(Path(name)) not in UPLOAD_SUFFIXES:
        raise UploadRejected(filename, "unsupported_type",
                             f"不支持的文件类型：{name}（支持 {'、'.join(UPLOAD_SUFFIXES)}）。/ "
                             f"Unsupported file type: {name} (supported: {', '.join(UPLOAD_SUFFIXES)}).")
    return name


def check_docx(filename: str, data: bytes, settings: Settings) -> None:
    """Refuse an encrypted, macro-laden or bomb-like .docx before python-docx opens it."""
    if data.startswith(_OLE_MAGIC):
        raise UploadRejected(filename, "encrypted_docx",
                             f"“{filename}”是加密的（或旧版 .doc）Word 文件，无法读取：请取消密码后另存为 .docx。/ "
                             f"'{filename}' is an encrypted (or old .doc) Word file: remove the password and "
                             f"save it as .docx.")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRejected(filename, "bad_docx", f"“{filename}”不是有效的 Word（.docx）文件。/ "
                                                   f"'{filename}' is not a valid Word (.docx) file.") from None
    if any(m.flag_bits & 0x1 for m in members):
        raise UploadRejected(filename, "encrypted_docx", f"“{filename}”含加密内容，无法读取。/ "
                                                         f"'{filename}' has encrypted parts.")
    if any(PurePosixPath(m.filename).name.lower() == "vbaproject.bin" for m in members):
        raise UploadRejected(filename, "macro_docx",
                             f"“{filename}”含宏（vbaProject.bin），出于安全不予接收：请另存为不含宏的 .docx。/ "
                             f"'{filename}' contains macros; save it as a macro-free .docx.")
    unpacked = sum(m.file_size for m in members)
    ratio = unpacked / max(1, len(data))
    if unpacked > settings.admin_max_unzipped_bytes or ratio > settings.admin_max_zip_ratio:
        raise UploadRejected(filename, "zip_bomb",
                             f"“{filename}”解压后过大（{unpacked // 1024} KB，压缩比 {ratio:.0f}），疑似压缩炸弹。/ "
                             f"'{filename}' unpacks to {unpacked // 1024} KB (ratio {ratio:.0f}): refused as a "
                             f"possible zip bomb.")


def check_upload(filename: str, data: bytes, settings: Settings) -> CheckedUpload:
    """Every check, then the parse preview; raises UploadRejected."""
    name = safe_name(filename)
    limit = settings.admin_max_upload_bytes
    if len(data) > limit:
        raise UploadRejected(filename, "file_too_large",
                             f"“{name}”太大：{len(data) // 1024} KB，上限 {limit // 1024} KB。/ "
                             f"'{name}' is too large: {len(data) // 1024} KB, the limit is {limit // 1024} KB.")
    if suffix_of(Path(name)) == ".docx":
        check_docx(name, data, settings)
    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            raw = load_file(path)[0]
            doc = parse_reply(raw)
        except LoadError as exc:
            raise UploadRejected(name, "unreadable", f"“{name}”无法读取：{exc} / '{name}' cannot be read.") \
                from None
    return CheckedUpload(name, data, preview(doc, name, data))


def preview(doc: ReplyDocument, filename: str, data: bytes) -> dict[str, Any]:
    """The header fields and the section tree as the assistant will cite them, with warnings."""
    header = doc.header.as_dict()
    warnings: list[dict[str, str]] = []
    if not doc.title.strip() or doc.title.strip() == doc.doc_id:
        warnings.append({"code": "no_title", "message": "没有找到标题 / no title found"})
    sections = [s for s in doc.sections]
    if not sections or all(_PARAGRAPH_LABEL.match(s.label or "") for s in sections):
        warnings.append({"code": "no_numbering",
                         "message": "没有编号的章节（一、（一）1. 等），将按段落引用 / no numbered sections: "
                                    "citations will name paragraphs"})
    if not doc.suggestion_no:
        warnings.append({"code": "no_number", "message": "没有找到建议/提案编号 / no suggestion number found"})
    if suffix_of(Path(filename)) in (".txt", ".md"):
        try:
            encoding = decode_text(data)[1]
        except LoadError:
            encoding = ""
        if encoding.lower() not in _PLAIN_ENCODINGS:
            warnings.append({"code": "unknown_encoding",
                             "message": f"编码无法确定（按 {encoding or '?'} 读取），请核对文字 / unknown encoding "
                                        f"(read as {encoding or '?'}): check the text"})
    return {
        "doc_id": doc.doc_id, "title": doc.title, "suggestion_no": doc.suggestion_no, "session": doc.session,
        "proposer": doc.proposer, "units": doc.handling_units, "issuer": header.get("issuer", ""),
        "doc_kind": header.get("kind", ""), "date": header.get("date", ""), "header": header,
        "sections": [_tree(s) for s in sections], "warnings": warnings,
    }


def _tree(section: Section) -> dict[str, Any]:
    return {"label": section.label, "heading": section.heading, "path": section.path_label,
            "chars": section.end - section.start, "children": [_tree(c) for c in section.children]}
