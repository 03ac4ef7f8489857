"""The index stays correct as documents are added, edited and removed — embedded Chroma and a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.index import snapshot_files
from assistant.index.ingest import Ingestor
from assistant.index.registry import Registry
from assistant.index.vectorstore import ChromaVectorStore

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reply-616-guiyang.txt"
REPORTS = ROOT.parent / "shared" / "data" / "gov-work-reports"


@pytest.fixture(params=["embedded", "server"])
def index_settings(request, tmp_path, model_settings):
    overrides = {"data_dir": tmp_path / "data", "models_path": model_settings.models_dir,
                 "embedding_cache_path": tmp_path / "cache.sqlite3"}
    if request.param == "server":
        server = request.getfixturevalue("chroma_server")
        overrides["chroma_url"] = server
    return model_settings.with_overrides(**overrides)


@pytest.fixture
def docs_dir(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    for name in ("2023-government-work-report.txt", "2024-government-work-report.txt"):
        shutil.copy(REPORTS / name, folder / name)
    return folder


def _consistent(settings) -> set[str]:
    registry_ids = Registry(settings.registry_path).chunk_ids()
    chroma_ids = ChromaVectorStore(settings).ids()
    assert registry_ids == chroma_ids, (
        f"registry and Chroma differ: {len(registry_ids - chroma_ids)} missing in Chroma, "
        f"{len(chroma_ids - registry_ids)} extra"
    )
    return registry_ids


def _published(settings) -> None:
    """Each ingest leaves the snapshot files of the registry's new state, which serving processes
    map instead of building them, and only those."""
    registry = Registry(settings.registry_path)
    generation, digest = registry.fingerprint()
    root = settings.data_dir / snapshot_files.FOLDER
    assert [p.name for p in root.iterdir() if p.is_dir()] == [snapshot_files.folder_name(generation, digest)]
    files = snapshot_files.open_folder(root / snapshot_files.folder_name(generation, digest), generation, digest)
    assert files is not None and set(files.chunks) == registry.chunk_ids()


def test_incremental_ingest(index_settings, docs_dir, embedder):
    ingestor = Ingestor(index_settings, embedder)
    first = ingestor.run([docs_dir])
    assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
    assert not first.failed
    assert first.chunks_embedded == first.chunks_total > 50
    ids_first = _consistent(index_settings)
    _published(index_settings)

    # Unchanged corpus: nothing embedded, same ids.
    second = Ingestor(index_settings, embedder).run([docs_dir])
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)
    assert second.chunks_embedded == 0
    assert _consistent(index_settings) == ids_first

    # Edit one item of the seed reply: only that document is updated, only the edited chunk changes.
    seed = docs_dir / SEED.name
    text = seed.read_text(encoding="utf-8")
    old = "五是扩大社会参与。"
    assert old in text
    seed.write_text(text.replace(old, "五是广泛扩大社会参与。"), encoding="utf-8")
    third = Ingestor(index_settings, embedder).run([docs_dir])
    assert (third.added, third.updated, third.unchanged) == (0, 1, 2)
    assert 1 <= third.chunks_embedded <= 2
    ids_third = _consistent(index_settings)
    _published(index_settings)
    assert len(ids_first - ids_third) == third.chunks_embedded
    assert len(ids_third - ids_first) == third.chunks_embedded

    # Delete a file and prune: its chunks leave both sides of the index.
    registry = Registry(index_settings.registry_path)
    gone = registry.chunk_ids("2023-government-work-report")
    assert gone
    (docs_dir / "2023-government-work-report.txt").unlink()
    fourth = Ingestor(index_settings, embedder).run([docs_dir], prune=True)
    assert fourth.removed == 1 and fourth.chunks_embedded == 0
    ids_fourth = _consistent(index_settings)
    _published(index_settings)
    assert not (gone & ids_fourth)
    assert ids_fourth == ids_third - gone


def test_reconcile_after_interrupted_ingest(index_settings, docs_dir, embedder):
    """A crash between the Chroma write and the registry commit leaves extra or missing vectors:
    the next run (which sees the dirty mark) puts Chroma back in line with the registry."""
    Ingestor(index_settings, embedder).run([docs_dir])
    ids = _consistent(index_settings)
    store = ChromaVectorStore(index_settings)
    victim = sorted(ids)[0]
    store.delete([victim])
    from assistant.schema import Chunk

    stray = Chunk(chunk_id="stray:0000:deadbeef", doc_id="stray", doc_title="stray", text="x", index_text="x")
    store.upsert([stray], np.ones((1, embedder.dim), dtype=np.float32) / np.sqrt(embedder.dim))
    Registry(index_settings.registry_path).set_meta("ingest_dirty", "1")

    report = Ingestor(index_settings, embedder).run([docs_dir])
    assert report.reconciled
    assert report.chunks_embedded == 0  # the missing vector came from the embedding cache
    assert _consistent(index_settings) == ids


def test_cli_ingest_json_reports_failures(tmp_path, model_settings, docs_dir):
    (docs_dir / "broken.txt").write_bytes(b"\x00\x01\x02binary\xff\xfe\x00" * 50)
    (docs_dir / "empty.txt").write_bytes(b"")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "cli-data"),
           "ASSISTANT_MODELS_PATH": str(model_settings.models_dir),
           "ASSISTANT_EMBEDDING_CACHE_PATH": str(tmp_path / "cli-cache.sqlite3")}
    cmd = [sys.executable, "-m", "assistant.cli", "ingest", str(docs_dir), "--json"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)  # exactly one JSON object on stdout
    assert report["documents"]["added"] == 3
    failed = {Path(f["path"]).name: f["error"] for f in report["documents"]["failed"]}
    assert set(failed) == {"broken.txt", "empty.txt"}
    assert all(failed.values())
    assert report["chunks"]["total"] == report["chunks"]["embedded"] > 0

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert json.loads(again.stdout)["chunks"]["embedded"] == 0

    listing = subprocess.run([sys.executable, "-m", "assistant.cli", "documents", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    docs = {d["doc_id"]: d for d in json.loads(listing.stdout)}
    assert docs["reply-616-guiyang"]["suggestion_no"] == "第616号"


def test_vector_store_queries_run_side_by_side_and_reopen_waits(tmp_path, model_settings, embedder):
    """Queries from several requests share the store at once; reopen() (another process ingested)
    waits for them and keeps new ones out until the store is open again."""
    import threading
    import time

    settings = model_settings.with_overrides(data_dir=tmp_path / "data", models_path=model_settings.models_dir,
                                             embedding_cache_path=tmp_path / "cache.sqlite3")
    Ingestor(settings, embedder).run([SEED])
    store = ChromaVectorStore(settings)
    vector = embedder.embed_query("惠水的土地政策")
    inside, most_inside, lock = [0], [0], threading.Lock()

    def slow_query():
        def call():
            with lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            time.sleep(0.2)
            hits = store.collection.query(query_embeddings=[vector.tolist()], n_results=3)
            with lock:
                inside[0] -= 1
            return hits
        return store._call(call)

    threads = [threading.Thread(target=slow_query) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    store.reopen()  # must wait for the three queries in flight
    waited = time.monotonic() - started
    for t in threads:
        t.join()
    assert most_inside[0] == 3, "queries were serialised"
    assert waited >= 0.1 and inside[0] == 0
    assert store.query(vector, 3)  # and the store works after reopening


def test_changed_dictionaries_retokenise_the_index_without_re_embedding(tmp_path, model_settings, embedder):
    from assistant.language.lexicon import RESOURCES_DIR, Lexicon

    resources = tmp_path / "resources"
    shutil.copytree(RESOURCES_DIR, resources)
    settings = model_settings.with_overrides(data_dir=tmp_path / "data", models_path=model_settings.models_dir,
                                             embedding_cache_path=tmp_path / "cache.sqlite3")
    first = Ingestor(settings, embedder, lexicon=Lexicon(resources, cache_dir=tmp_path)).run([SEED])
    assert first.added == 1 and first.retokenized == 0

    def tokens_of(word: str) -> list[str]:
        return [t for chunk, tokens in Registry(settings.registry_path).iter_chunks()
                if word in chunk.index_text for t in tokens if t == word]

    word = "新型督查考核机制"
    assert not tokens_of(word)
    generation = Registry(settings.registry_path).generation()
    with open(resources / "gov_terms.txt", "a", encoding="utf-8") as f:
        f.write(f"\n{word} 2000 n\n")
    changed = Lexicon(resources, cache_dir=tmp_path)
    again = Ingestor(settings, embedder, lexicon=changed).run([SEED])
    assert again.unchanged == 1 and again.chunks_embedded == 0
    assert again.retokenized == first.chunks_total
    assert tokens_of(word) and Registry(settings.registry_path).generation() > generation
    assert Ingestor(settings, embedder, lexicon=changed).run([SEED]).retokenized == 0
