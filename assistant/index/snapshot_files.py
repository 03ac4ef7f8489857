"""The serving snapshot's heavy parts as files: built once per registry state, mapped by every worker.

Rebuilding BM25 from the registry's tokens costs every serving process seconds and hundreds of MB
at 20,000 articles (each chunk's text as a Python object, each token list parsed, the matrix built).
Instead the first process that needs a registry state builds the keyword index and the chunk table
into ``<data dir>/snapshots/<key>/`` and every process maps those files, sharing their pages.

The key is the registry's generation and a digest of its chunk ids (with this format's and the
tokenizer's versions), so a folder is never used for another state. A folder is built in a
temporary folder and renamed into place, under a lock so that workers starting together build it
once; a folder that does not open cleanly (torn, truncated, another format) is ignored and rebuilt.
A data directory this process cannot write to still works: the files go to a private temporary
folder, as if the data directory had no room for them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from assistant.index.keyword_index import KeywordIndex
from assistant.index.mapped import ChunkTable, ChunkWriter
from assistant.index.registry import DocumentRecord, Registry, ids_digest
from assistant.language.tokens import TOKENIZER_VERSION

log = logging.getLogger(__name__)

FORMAT = 2
FOLDER = "snapshots"
MANIFEST = "manifest.json"
DOCUMENTS = "documents.json"


@dataclass
class IndexFiles:
    """A registry state's keyword index, chunks and document records, opened from files."""

    generation: int
    keyword: KeywordIndex
    chunks: ChunkTable
    documents: list[DocumentRecord]


def folder_name(generation: int, digest: str) -> str:
    salt = hashlib.sha256(f"{FORMAT}\0{TOKENIZER_VERSION}\0{digest}".encode()).hexdigest()[:16]
    return f"g{generation}-{salt}"


def _manifest(generation: int, digest: str) -> dict:
    return {"format": FORMAT, "tokenizer": TOKENIZER_VERSION, "generation": generation, "ids_digest": digest}


def open_folder(folder: Path, generation: int, digest: str) -> IndexFiles | None:
    """The files in ``folder`` if they are complete and of this registry state; else None."""
    if not (folder / MANIFEST).exists():  # not built yet (a folder appears whole, manifest included)
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if {k: manifest.get(k) for k in ("format", "tokenizer", "generation", "ids_digest")} != \
                _manifest(generation, digest):
            raise ValueError("the manifest is of another registry state or format")
        keyword = KeywordIndex.open(folder)
        chunks = ChunkTable.open(folder, keyword.ids)
        if len(chunks) != manifest.get("chunks"):
            raise ValueError("fewer chunks than the manifest says")
        # One JSON text, not one per document and column as from SQLite: a third of the time, and
        # the headers' keys are decoded once for all documents.
        documents = [DocumentRecord(*row) for row in
                     json.loads((folder / DOCUMENTS).read_text(encoding="utf-8"))]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        log.warning("ignoring the snapshot files in %s: %s", folder, error)
        return None
    return IndexFiles(generation, keyword, chunks, documents)


def build(registry: Registry, folder: Path) -> tuple[int, str]:
    """Write the registry's current keyword index, chunks and documents into ``folder`` (which must exist and
    be empty), the manifest last; returns the (generation, ids digest) they are of."""
    writer = ChunkWriter(folder)

    def streamed():  # chunks go to the file and tokens to the index, never all in memory at once
        for chunk, tokens in registry.iter_chunks():
            writer.add(chunk)
            yield chunk.chunk_id, tokens

    generation = registry.generation()
    rows = [[getattr(d, f.name) for f in fields(DocumentRecord)] for d in registry.documents()]
    (folder / DOCUMENTS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    keyword = KeywordIndex()
    keyword.load(streamed())
    writer.close()
    keyword.save(folder)
    digest = ids_digest(writer.ids)
    if registry.generation() != generation:  # a commit during the build: the files are of neither
        generation = -1
    manifest = {**_manifest(generation, digest), "chunks": len(writer.ids)}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return generation, digest


@contextmanager
def _locked(root: Path):
    with open(root / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_once(folder: Path, built: tuple[int, str], generation: int) -> IndexFiles:
    """Open a build that no other process will use, then delete its folder (the pages stay mapped).
    It is labelled ``generation``, the state asked for: if it is newer, a refresh follows."""
    try:
        opened = open_folder(folder, *built)
        if opened is None:
            raise RuntimeError(f"the snapshot files just built in {folder} do not open")
        opened.generation = generation
        return opened
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _prune(root: Path, keep: str) -> None:
    """Remove other states' folders and torn builds (under the lock, so no build is running).
    Processes that mapped them keep their pages until they let go."""
    for path in root.iterdir():
        if path.is_dir() and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


def _build_shared(registry: Registry, root: Path, generation: int, digest: str) -> IndexFiles:
    """Build the files of this state into ``root`` unless another process did (one at a time)."""
    key = folder_name(generation, digest)
    root.mkdir(exist_ok=True)
    with _locked(root):
        opened = open_folder(root / key, generation, digest)  # built while we waited
        if opened is not None:
            return opened
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        log.info("building the snapshot files of generation %d in %s", generation, root)
        built = build(registry, tmp)
        if built != (generation, digest):  # the registry changed meanwhile: not this key's
            return _open_once(tmp, built, generation)
        shutil.rmtree(root / key, ignore_errors=True)  # a damaged copy, which did not open
        tmp.rename(root / key)
        _prune(root, keep=key)
    opened = open_folder(root / key, generation, digest)
    if opened is None:
        raise RuntimeError(f"the snapshot files just built in {root / key} do not open")
    return opened


def open_or_build(registry: Registry, private: bool = True) -> IndexFiles | None:
    """The registry's current keyword index and chunks, from the shared files (built if missing).

    When the data directory cannot be written, they are built into a private temporary folder
    (``private``) or not at all (None)."""
    generation, digest = registry.fingerprint()
    root = registry.path.parent / FOLDER
    opened = open_folder(root / folder_name(generation, digest), generation, digest)
    if opened is not None:
        return opened
    try:
        return _build_shared(registry, root, generation, digest)
    except OSError as error:  # a read-only or full data directory
        if not private:
            log.warning("cannot write the snapshot files under %s (%s)", root, error)
            return None
        log.warning("cannot write the snapshot files under %s (%s): building them privately", root, error)
    tmp = Path(tempfile.mkdtemp(prefix="assistant-snapshot-"))
    return _open_once(tmp, build(registry, tmp), generation)


def publish(registry: Registry) -> None:
    """Make sure the files of the registry's current state exist (what an ingest calls after its
    commits), so that serving processes only map them: building them in a serving process costs
    seconds and grows its heap for good."""
    open_or_build(registry, private=False)
