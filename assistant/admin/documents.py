"""Documents as administrators manage them: uploads kept as drafts (parsed, previewed, not
indexed) or published (indexed through ``Assistant.ingest``, the CLI's crash-safe ingest), and
every indexed document, whatever brought it in.

An upload is stored as ``DATA_DIR/uploads/<upload_id>/<file name>`` (its own folder, so that two
uploads with one name never meet) and described by a row of the ``uploads`` table. Published
means in the index; unpublishing takes it out and keeps the file as a draft; deleting takes it
out and removes the file. Each operation is serialised (one at a time per process; the ingest's
file lock covers other processes) and reloads the serving snapshot (``Assistant.ingest``/
``remove`` do).
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.admin.errors import AdminError
from assistant.admin.store import AdminStore, now
from assistant.admin.uploads import CheckedUpload, UploadRejected, check_upload
from assistant.core import Assistant
from assistant.settings import Settings

SORT_KEYS = ("title", "suggestion_no", "issuer", "doc_kind", "date", "sections", "published_at", "status")
_UPLOAD_COLUMNS = ("upload_id, filename, path, doc_id, status, uploaded_by, uploaded_at, published_by, "
                   "published_at, preview")


@dataclass
class Upload:
    upload_id: str
    filename: str
    path: str
    doc_id: str
    status: str  # "draft" | "published"
    uploaded_by: str
    uploaded_at: float
    published_by: str
    published_at: float | None
    preview: dict[str, Any]

    @classmethod
    def from_row(cls, row: tuple) -> Upload:
        return cls(*row[:9], json.loads(row[9]))


class DocumentManager:
    def __init__(self, assistant: Assistant, store: AdminStore, settings: Settings | None = None):
        self.assistant = assistant
        self.store = store
        self.settings = settings or assistant.settings  # the web app's (its limits), else the assistant's
        self.folder = self.settings.uploads_dir
        self._lock = threading.Lock()

    # ---- reading -----------------------------------------------------------------------------
    def uploads(self) -> list[Upload]:
        return [Upload.from_row(r) for r in self.store.query(
            f"SELECT {_UPLOAD_COLUMNS} FROM uploads ORDER BY uploaded_at DESC")]

    def find_upload(self, key: str) -> Upload | None:
        """The upload with this upload id, else the newest with this document id."""
        rows = self.store.query(f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ? OR doc_id = ? "
                                "ORDER BY upload_id = ? DESC, uploaded_at DESC LIMIT 1", (key, key, key))
        return Upload.from_row(rows[0]) if rows else None

    def listing(self, q: str | None = None, sort: str = "published_at", descending: bool = True) -> list[dict]:
        """Indexed documents and drafts, one row each; ``q`` matches title, number, issuer, id or file."""
        by_doc = {u.doc_id: u for u in reversed(self.uploads()) if u.status == "published"}
        rows = []
        for doc in self.assistant.documents():
            upload = by_doc.get(doc["doc_id"])
            rows.append(_row(doc, "published", doc["chunks"], upload))
        for upload in self.uploads():
            if upload.status == "draft":
                rows.append(_row(upload.preview, "draft", len(upload.preview.get("sections", [])), upload))
        if q:
            needle = q.casefold()
            rows = [r for r in rows if any(needle in str(r[k]).casefold() for k in (
                "title", "suggestion_no", "issuer", "doc_id", "filename", "doc_kind"))]
        key = sort if sort in SORT_KEYS else "published_at"
        # Empty values last in either order (the shipped corpus has no publication time).
        filled = [r for r in rows if r[key] not in (None, "")]
        filled.sort(key=lambda r: r[key] if key in ("sections", "published_at") else str(r[key]), reverse=descending)
        return filled + [r for r in rows if r[key] in (None, "")]

    # ---- changing ----------------------------------------------------------------------------
    def upload(self, files: list[tuple[str, bytes]], actor: str, publish: bool) -> list[Upload]:
        """Check every file (any failure: UploadRejected, nothing stored), store them as drafts, then
        publish them if asked."""
        limit = self.settings.admin_max_upload_files
        if not files:
            raise UploadRejected("", "no_files", "请选择要上传的文件。/ Please choose files to upload.")
        if len(files) > limit:
            raise UploadRejected("", "too_many_files", f"一次最多上传 {limit} 个文件（收到 {len(files)} 个）。/ "
                                                       f"At most {limit} files per upload (got {len(files)}).")
        checked = [check_upload(name, data, self.settings) for name, data in files]
        with self._lock:
            uploads = [self._store(c, actor) for c in checked]
        if publish:
            uploads = [self.publish(u.upload_id, actor) for u in uploads]
        return uploads

    def _store(self, checked: CheckedUpload, actor: str) -> Upload:
        upload_id = secrets.token_hex(8)
        folder = self.folder / upload_id
        folder.mkdir(parents=True)
        partial = folder / (".partial-" + checked.filename)
        partial.write_bytes(checked.data)
        path = partial.rename(folder / checked.filename)  # a crash leaves no half file under its name
        upload = Upload(upload_id, checked.filename, str(path), checked.preview.get("doc_id", ""), "draft", actor,
                        now(), "", None, checked.preview)
        self.store.execute(f"INSERT INTO uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (upload.upload_id, upload.filename, upload.path, upload.doc_id, upload.status,
                            actor, upload.uploaded_at, "", None, json.dumps(upload.preview, ensure_ascii=False)))
        return upload

    def publish(self, key: str, actor: str) -> Upload:
        with self._lock:
            upload = self._upload_or_404(key)
            if upload.status == "published":
                return upload
            report = self.assistant.ingest([Path(upload.path)])
            if report.failed:
                raise AdminError(422, "ingest_failed", f"发布失败：{report.failed[0].error} / publishing failed.")
            doc_id = next((d for d, (_, source) in self.assistant.registry.hashes().items()
                           if source == upload.path), upload.doc_id)
            self.store.execute("UPDATE uploads SET status = 'published', doc_id = ?, published_by = ?, "
                               "published_at = ? WHERE upload_id = ?", (doc_id, actor, now(), upload.upload_id))
            return self._upload_or_404(upload.upload_id)

    def unpublish(self, key: str) -> Upload:
        with self._lock:
            upload = self._upload_or_404(key)
            if upload.status == "published":
                self.assistant.remove([upload.doc_id])
                self.store.execute("UPDATE uploads SET status = 'draft', published_by = '', published_at = NULL "
                                   "WHERE upload_id = ?", (upload.upload_id,))
            return self._upload_or_404(upload.upload_id)

    def delete(self, key: str) -> str:
        """Take the document out of the index and delete its upload; returns what was deleted."""
        with self._lock:
            upload = self.find_upload(key)
            if upload is not None:
                if upload.status == "published":
                    self.assistant.remove([upload.doc_id])
                self.store.execute("DELETE FROM uploads WHERE upload_id = ?", (upload.upload_id,))
                shutil.rmtree(self.folder / upload.upload_id, ignore_errors=True)
                return upload.doc_id or upload.upload_id
            if self.assistant.registry.document(key) is None:
                raise AdminError(404, "document_not_found", f"没有文档“{key}”。/ No document '{key}'.")
            self.assistant.remove([key])  # brought in by `assistant ingest`: out of the index only
            return key

    def reindex(self) -> dict:
        """Ingest every published upload again (incremental: unchanged files cost nothing; a registry
        left dirty by a killed run is reconciled first)."""
        with self._lock:
            paths = [Path(u.path) for u in self.uploads() if u.status == "published"]
            return self.assistant.ingest(paths).to_json()

    def _upload_or_404(self, key: str) -> Upload:
        upload = self.find_upload(key)
        if upload is None:
            raise AdminError(404, "upload_not_found", f"没有上传的文档“{key}”（只有上传的文档可以发布或撤回）。/ "
                                                         f"No uploaded document '{key}'.")
        return upload


def _row(doc: dict, status: str, sections: int, upload: Upload | None) -> dict:
    return {
        "doc_id": doc.get("doc_id", ""), "status": status, "title": doc.get("title", ""),
        "suggestion_no": doc.get("suggestion_no", ""), "issuer": doc.get("issuer", ""),
        "doc_kind": doc.get("doc_kind", ""), "date": doc.get("date", ""), "sections": sections,
        "upload_id": upload.upload_id if upload else None, "filename": upload.filename if upload else "",
        "uploaded_by": upload.uploaded_by if upload else "", "published_by": upload.published_by if upload else "",
        "published_at": upload.published_at if upload else None,
    }
