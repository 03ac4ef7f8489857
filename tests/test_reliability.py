"""Reliability: ingestion survives being killed at any moment, queries never see half a document,
and the service reports (and outlives) its dependencies failing.

* ``assistant ingest`` is SIGKILLed again and again (seeded RNG; kills anchored on what the
  process is doing, seen from outside through ``/proc/PID/fd`` and the registry's generation, so
  they land in model loading, parsing/embedding, Chroma writes and between registry commits
  whatever the machine's speed); one more run then leaves exactly the index a clean ingest
  builds. A deterministic companion injects a crash before every single write of an update.
* While a document is edited and re-ingested over and over, two Assistants (the ingesting one
  and a second one on the same data directory) answer questions; every answer's sources come
  from one version of the document.
* A Chroma server that stops makes ``/readyz`` and ``/api/chat`` say so (503); when it comes
  back on the same port, answers resume without a restart.
* A missing or corrupt model folder is rebuilt by ``assistant models prepare``; one that cannot
  be rebuilt is reported in a sentence, not a traceback.

Figures (each kill with its phase) are written to ``artifacts/reliability.json``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest
import servers

from assistant.embedding import SAME_TEXT_MIN_COSINE, resolve_precision
from assistant.index.ingest import Ingestor
from assistant.index.registry import Registry
from assistant.index.vectorstore import ChromaVectorStore

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reply-616-guiyang.txt"
REPORTS = ROOT.parent / "shared" / "data" / "gov-work-reports"
KILL_REPORTS = ("2014-government-work-report.txt", "2015-government-work-report.txt",
                "2016-government-work-report.txt")
TEST_CACHE = Path(os.environ.get("ASSISTANT_TEST_CACHE", "/tmp/assistant-test-cache"))
ARTIFACTS = ROOT / "artifacts"

needs_reports = pytest.mark.skipif(not REPORTS.is_dir(), reason=f"needs the work reports in {REPORTS}")


def record_figures(section: str, data: object) -> None:
    servers.record_figures("reliability.json", section, data)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------------------------
# Corpus versions and the index as data
# --------------------------------------------------------------------------------------------


def revise(text: str) -> str:
    """A second version of a document: some paragraphs extended, one removed.

    Extended paragraphs give new chunks (new ids, new embeddings) and stale ones to delete; the
    removed paragraph shifts the offsets and order of the chunks after it, so unchanged chunks
    get new metadata — every write of an update is exercised.
    """
    lines = text.split("\n")
    out, removed = [], False
    for i, line in enumerate(lines):
        long_paragraph = len(line) > 60 and i >= 12
        if long_paragraph and not removed and i % 13 == 7:
            removed = True
            continue
        if long_paragraph and i % 6 == 0:
            line += "（修订：本段内容已于近期复核。）"
        out.append(line)
    return "\n".join(out)


def write_kill_corpus(folder: Path, version: str) -> Path:
    """The seed reply and three work reports, as version "v1" (as written) or "v2" (revised)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (SEED, *(REPORTS / name for name in KILL_REPORTS)):
        text = source.read_text(encoding="utf-8")
        (folder / source.name).write_text(revise(text) if version == "v2" else text, encoding="utf-8")
    return folder


def index_state(settings) -> dict:
    """Everything a clean ingest determines: documents, chunks with tokens, and Chroma's records."""
    registry = Registry(settings.registry_path)
    try:
        documents = {d.doc_id: asdict(d) for d in registry.documents()}
        chunks = {c.chunk_id: (asdict(c), tuple(tokens)) for c, tokens in registry.iter_chunks()}
        dirty = registry.get_meta("ingest_dirty")
    finally:
        registry.close()
    store = ChromaVectorStore(settings)
    got = store.collection.get(include=["documents", "metadatas", "embeddings"])
    vectors = {cid: (doc, meta, np.asarray(emb, dtype=np.float32))
               for cid, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"],
                                              got["embeddings"], strict=True)}
    return {"documents": documents, "chunks": chunks, "vectors": vectors, "dirty": dirty,
            "chroma_count": store.count(), "chroma_ids_listed": len(got["ids"]), "store": store,
            "min_cosine": SAME_TEXT_MIN_COSINE[resolve_precision(settings.embedding_precision)]}


def assert_same_index(got: dict, want: dict) -> None:
    """``got`` holds exactly what ``want`` (a clean ingest) holds, on the keyword and vector sides."""
    assert got["dirty"] is None, "the dirty mark is cleared by a run that ends"
    assert got["documents"] == want["documents"]
    missing = want["chunks"].keys() - got["chunks"].keys()
    extra = got["chunks"].keys() - want["chunks"].keys()
    assert not missing and not extra, f"registry: {len(missing)} chunks missing, {len(extra)} extra"
    for cid, (chunk, tokens) in want["chunks"].items():
        assert got["chunks"][cid] == (chunk, tokens), f"registry chunk {cid} differs"
    # The vector side: the same ids as the registry, once each, with the same text, metadata, vector.
    assert got["chroma_count"] == got["chroma_ids_listed"] == len(got["vectors"]), "duplicate vectors"
    assert got["vectors"].keys() == got["chunks"].keys(), (
        f"Chroma ≠ registry: {len(got['chunks'].keys() - got['vectors'].keys())} vectors missing, "
        f"{len(got['vectors'].keys() - got['chunks'].keys())} extra")
    for cid, (text, meta, vector) in want["vectors"].items():
        g_text, g_meta, g_vector = got["vectors"][cid]
        assert (g_text, g_meta) == (text, meta), f"Chroma record {cid} differs"
        # A rerun embeds what the crash left unembedded in other batches: equal up to the precision.
        assert float(g_vector @ vector) >= want["min_cosine"], f"Chroma vector {cid} differs"
    # The HNSW index (what queries use) holds every vector: each one finds itself.
    ids = sorted(got["vectors"])
    matrix = np.stack([got["vectors"][cid][2] for cid in ids])
    found = got["store"].collection.query(query_embeddings=matrix, n_results=min(3, len(ids)), include=[])
    lost = [cid for cid, hits in zip(ids, found["ids"], strict=True) if cid not in hits]
    assert not lost, f"{len(lost)} vectors are listed but not found by a vector query: {lost[:3]}"


# --------------------------------------------------------------------------------------------
# Killing `assistant ingest` at chosen moments
# --------------------------------------------------------------------------------------------


def cli_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_MODELS_PATH=str(settings.models_dir),
        ASSISTANT_EMBEDDING_CACHE_PATH=str(settings.embedding_cache_file),
        ASSISTANT_CONFIG=str(settings.data_dir / "no-such-config.toml"),
        ASSISTANT_EMBEDDING_PRECISION=settings.embedding_precision,
        HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="2",
    )
    return env


@dataclass
class Kill:
    """When to kill: ``delay`` seconds after the anchor event.

    Anchors: ``start`` (process spawned), ``lock`` (it holds ``ingest.lock``: model loaded, run
    started), ``chroma`` (it opened Chroma: reconciling or writing the first vectors), ``commit``
    (the registry's generation rose by ``commits`` during this run).
    """

    anchor: str
    delay: float
    commits: int = 0


@dataclass
class RunRecord:
    version: str
    cache: str
    plan: str
    killed: bool = False
    seconds: float = 0.0
    phase: str = ""
    returncode: int | None = None
    startup_s: float | None = None
    committed: int = 0
    report: dict | None = field(default=None, repr=False)


class IngestProcess:
    """``python -m assistant.cli ingest DIR --json`` with an outside view of its progress."""

    def __init__(self, settings, corpus: Path, cwd: Path):
        self.registry_path = settings.registry_path
        self.generation_before = self.generation() or 0
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "ingest", str(corpus), "--json"],
            env=cli_env(settings), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen: dict[str, float] = {}  # event → seconds since start

    def open_files(self) -> set[str]:
        names = set()
        try:
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                try:
                    names.add(os.path.basename(os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")))
                except OSError:
                    pass
        except OSError:
            pass
        return names

    def generation(self) -> int | None:
        if not self.registry_path.exists():
            return None
        try:
            con = sqlite3.connect(f"file:{self.registry_path}?mode=ro", uri=True, timeout=0.05)
            try:
                row = con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        return int(row[0]) if row else 0

    def observe(self) -> None:
        now = time.monotonic() - self.started
        files = self.open_files()
        self.seen.setdefault("start", 0.0)
        if "ingest.lock" in files:
            self.seen.setdefault("lock", now)
        if "chroma.sqlite3" in files:
            self.seen.setdefault("chroma", now)
        committed = (self.generation() or 0) - self.generation_before
        for n in range(1, committed + 1):
            self.seen.setdefault(f"commit{n}", now)

    def phase(self, cold_cache: Path | None = None) -> str:
        """What the process is doing right now, in words (for the report).

        ``cold_cache``: the run's fresh embedding cache — while it is still empty and nothing is
        committed, the process is parsing or embedding (a dirty run opens Chroma first, to
        reconcile, so an open Chroma file alone does not mean it is writing vectors).
        """
        files = self.open_files()
        committed = (self.generation() or 0) - self.generation_before
        if "ingest.lock" not in files:
            return "after the run (exiting)" if "lock" in self.seen else "imports / model load"
        if committed == 0:
            if "chroma.sqlite3" not in files or (cold_cache is not None and _cache_rows(cold_cache) == 0):
                return "parsing / embedding"
            return "reconcile / Chroma writes of the first document"
        return f"Chroma writes / registry commits ({committed} documents committed)"

    def run(self, kill: Kill | None, cold_cache: Path | None = None, timeout: float = 600.0) -> RunRecord:
        record = RunRecord("", "", "")
        key = kill.anchor + (str(kill.commits) if kill and kill.anchor == "commit" else "") if kill else ""
        deadline = self.started + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("ingest did not finish in time")
            self.observe()
            if kill and key in self.seen and time.monotonic() - self.started >= self.seen[key] + kill.delay:
                record.phase = self.phase(cold_cache)
                os.kill(self.proc.pid, signal.SIGKILL)
                record.killed = True
                break
            time.sleep(0.01)
        out, err = self.proc.communicate(timeout=60)
        record.seconds = round(time.monotonic() - self.started, 2)
        record.returncode = self.proc.returncode
        record.startup_s = round(self.seen["lock"], 2) if "lock" in self.seen else None
        record.committed = (self.generation() or 0) - self.generation_before
        if not record.killed:
            assert record.returncode == 0, err.decode(errors="replace")[-3000:]
            record.report = json.loads(out)
            record.phase = "completed"
        else:
            assert record.returncode == -signal.SIGKILL
        return record


def version_hashes(folder: Path, settings) -> dict[str, str]:
    """doc id → the content hash ingestion computes for the files in ``folder``."""
    from assistant.index.ingest import content_hash
    from assistant.reading.loaders import load_file

    return {raw.doc_id: content_hash(raw, settings) for f in sorted(folder.iterdir()) for raw in load_file(f)}


def pending_documents(settings, hashes: dict[str, str]) -> int:
    """How many documents an ingest of the version with ``hashes`` would (re)write."""
    if not settings.registry_path.exists():
        return len(hashes)
    registry = Registry(settings.registry_path)
    try:
        known = registry.hashes()
    finally:
        registry.close()
    return sum(1 for doc_id, h in hashes.items() if known.get(doc_id, ("",))[0] != h)


def _cache_rows(path: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def kill_plan(rng: random.Random) -> list[tuple[str, Kill]]:
    """Three kills with fresh embedding caches (model load, parsing, embedding), then nine with a
    warm cache, anchored on Chroma opening and on each registry commit, in a shuffled order."""
    plan = [
        ("fresh", Kill("start", rng.uniform(0.3, 2.5))),
        ("fresh", Kill("lock", rng.uniform(0.0, 1.0))),
        ("fresh", Kill("lock", rng.uniform(1.0, 4.0))),
    ]
    warm = [Kill("start", 0.0), Kill("lock", rng.uniform(0.0, 0.8)), Kill("chroma", rng.uniform(0.0, 0.3)),
            Kill("chroma", rng.uniform(0.0, 0.3))]
    warm += [Kill("commit", rng.uniform(0.0, 0.25), commits=n) for n in (1, 1, 2, 3, 3)]
    rng.shuffle(warm)
    return plan + [("warm", k) for k in warm]


@needs_reports
@pytest.mark.timeout(900)
def test_sigkill_anywhere_then_rerun_gives_the_clean_index(tmp_path, model_settings, embedder):
    corpus = tmp_path / "corpus"
    warm_cache = TEST_CACHE / "reliability-embeddings.sqlite3"  # persists: warm after the first run

    # The expectation: a clean, uninterrupted ingest of the final version (v2) of the corpus.
    write_kill_corpus(corpus, "v2")
    clean = model_settings.with_overrides(data_dir=tmp_path / "clean", embedding_cache_path=warm_cache)
    report = Ingestor(clean, embedder).run([corpus])
    assert report.added == 4 and not report.failed
    want = index_state(clean)
    assert len(want["chunks"]) > 150

    crashed = model_settings.with_overrides(data_dir=tmp_path / "crashed", embedding_cache_path=warm_cache)
    hashes = {v: version_hashes(write_kill_corpus(tmp_path / f"corpus-{v}", v), crashed) for v in ("v1", "v2")}
    rng = random.Random(20240616)
    records: list[RunRecord] = []
    startup = 8.0  # seconds to the ingest lock (imports + model load); measured by the runs below
    plan = kill_plan(rng)
    attempts = 0
    while plan and attempts < 20:
        attempts += 1
        cache, kill = plan[0]
        if cache == "fresh":
            version = "v1"
            settings = crashed.with_overrides(embedding_cache_path=tmp_path / f"fresh-cache-{attempts}.sqlite3")
        else:
            # The version with more documents to update, so that the commits the kill waits for happen.
            pending = {v: pending_documents(crashed, h) for v, h in hashes.items()}
            version = max(pending, key=lambda v: (pending[v], v))
            settings = crashed
            if kill.anchor == "start":
                kill = Kill("start", rng.uniform(0.2, 0.95) * startup)
            elif kill.anchor == "commit" and kill.commits > pending[version]:
                kill = Kill("commit", kill.delay, commits=max(1, pending[version]))
        write_kill_corpus(corpus, version)
        cold = settings.embedding_cache_file if cache == "fresh" else None
        record = IngestProcess(settings, corpus, tmp_path).run(kill, cold_cache=cold)
        record.version, record.cache = version, cache
        record.plan = f"{kill.anchor}{kill.commits or ''}+{kill.delay:.2f}s"
        records.append(record)
        if record.startup_s:
            startup = record.startup_s
        if record.killed:
            plan.pop(0)

    kills = [r for r in records if r.killed]
    summary = [f"{r.plan:>14} {r.cache:5} {r.version} {r.seconds:6.2f}s  {r.phase}" for r in records]
    print("\n".join(summary))

    # The run after the last kill, uninterrupted, on the final version.
    write_kill_corpus(corpus, "v2")
    final = IngestProcess(crashed, corpus, tmp_path).run(None)
    assert final.report["documents"]["failed"] == []
    assert final.report["chunks"]["total"] == len(want["chunks"])
    records.append(final)

    got = index_state(crashed)
    assert_same_index(got, want)
    # And once more: nothing left to do.
    again = Ingestor(crashed, embedder).run([corpus])
    assert (again.unchanged, again.updated, again.added, again.chunks_embedded) == (4, 0, 0, 0)

    phases = sorted({r.phase for r in kills})
    record_figures("sigkill_ingest", {
        "kills": len(kills), "runs": len(records), "chunks": len(want["chunks"]),
        "phases": phases, "runs_detail": [{k: v for k, v in asdict(r).items() if k != "report"}
                                          for r in records]})
    assert len(kills) >= 10, summary
    assert any(p.startswith("imports") for p in phases), phases
    assert any(p.startswith("parsing") for p in phases), phases
    assert any(p.startswith("Chroma writes / registry") for p in phases), phases


# --------------------------------------------------------------------------------------------
# A crash before each single write of an update (deterministic companion of the kills above)
# --------------------------------------------------------------------------------------------

WRITE_METHODS = frozenset({"upsert", "update_metadata", "delete", "replace_document", "set_meta",
                           "update_source", "remove_documents"})


class Crash(BaseException):
    """Stands for the process dying: a BaseException, so no ``except Exception`` swallows it."""


class WriteCounter:
    def __init__(self, crash_at: int | None = None):
        self.crash_at = crash_at
        self.writes: list[str] = []

    def before(self, name: str) -> None:
        if self.crash_at is not None and len(self.writes) == self.crash_at:
            raise Crash(name)
        self.writes.append(name)


class CrashingProxy:
    """The real registry or vector store, except that the counter's chosen write never happens."""

    def __init__(self, target, counter: WriteCounter):
        self._target = target
        self._counter = counter

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if name not in WRITE_METHODS:
            return attr

        def write(*args, **kwargs):
            self._counter.before(f"{type(self._target).__name__}.{name}")
            return attr(*args, **kwargs)

        return write


def _ingestor(settings, embedder, counter: WriteCounter) -> Ingestor:
    return Ingestor(settings, embedder, registry=CrashingProxy(Registry(settings.registry_path), counter),
                    vectors=CrashingProxy(ChromaVectorStore(settings), counter))


@needs_reports
def test_a_crash_before_any_write_of_an_update_is_repaired(tmp_path, model_settings, embedder):
    """v1 indexed, v2 being ingested: stop before write 0, 1, 2 … of the update; the next run
    leaves exactly the clean index of v2 — including the metadata of chunks whose text did not
    change but whose position did."""
    cache = TEST_CACHE / "reliability-embeddings.sqlite3"
    corpus = tmp_path / "docs"

    def write(version: str) -> None:
        corpus.mkdir(exist_ok=True)
        for source in (SEED, REPORTS / KILL_REPORTS[0]):
            text = source.read_text(encoding="utf-8")
            (corpus / source.name).write_text(revise(text) if version == "v2" else text, encoding="utf-8")

    write("v2")
    clean = model_settings.with_overrides(data_dir=tmp_path / "clean", embedding_cache_path=cache)
    Ingestor(clean, embedder).run([corpus])
    want = index_state(clean)

    def updated(name: str, crash_at: int | None) -> tuple:
        settings = model_settings.with_overrides(data_dir=tmp_path / name, embedding_cache_path=cache)
        write("v1")
        Ingestor(settings, embedder).run([corpus])
        write("v2")
        counter = WriteCounter(crash_at)
        try:
            _ingestor(settings, embedder, counter).run([corpus])
        except Crash:
            pass
        return settings, counter

    _, dry = updated("dry", None)
    writes = dry.writes
    assert {"ChromaVectorStore.upsert", "Registry.replace_document", "ChromaVectorStore.update_metadata",
            "ChromaVectorStore.delete"} <= set(writes), writes
    repaired = []
    for i, name in enumerate(writes):
        settings, counter = updated(f"crash-{i}", i)
        assert len(counter.writes) == i
        report = Ingestor(settings, embedder).run([corpus])
        assert report.reconciled == (i > 0), f"crash before {name}"
        try:
            assert_same_index(index_state(settings), want)
        except AssertionError as exc:
            raise AssertionError(f"after a crash before write {i} ({name}): {exc}") from None
        repaired.append(name)
    record_figures("crash_before_each_write", {"writes_in_update": len(writes), "sequence": writes,
                                               "crash_points_repaired": len(repaired)})


def test_a_moved_file_updates_its_source_on_both_sides(tmp_path, model_settings, embedder):
    """Moving an unchanged file changes no chunk, but the source the answer names must follow it
    in the registry and in Chroma alike (as a clean ingest would have it)."""
    cache = TEST_CACHE / "reliability-embeddings.sqlite3"
    settings = model_settings.with_overrides(data_dir=tmp_path / "data", embedding_cache_path=cache)
    (tmp_path / "docs").mkdir()
    shutil.copy(SEED, tmp_path / "docs" / SEED.name)
    Ingestor(settings, embedder).run([tmp_path / "docs"])
    (tmp_path / "docs" / "2023").mkdir()
    shutil.move(tmp_path / "docs" / SEED.name, tmp_path / "docs" / "2023" / SEED.name)
    report = Ingestor(settings, embedder).run([tmp_path / "docs"])
    assert report.unchanged == 1 and report.chunks_embedded == 0

    clean = model_settings.with_overrides(data_dir=tmp_path / "clean", embedding_cache_path=cache)
    Ingestor(clean, embedder).run([tmp_path / "docs"])
    assert_same_index(index_state(settings), index_state(clean))


# --------------------------------------------------------------------------------------------
# Serving while ingesting
# --------------------------------------------------------------------------------------------

VERSIONED_ID = "reply-9100-versioned"
VERSION_TAG = re.compile(r"版本标记V(\d{3})")
VERSIONED_QUESTIONS = (
    "城市供水水源保护有哪些措施？",
    "供水管网改造怎么推进？",
    "应急供水保障如何安排？",
    "第9100号建议的答复讲了哪些内容？",
)


def versioned_reply(n: int) -> str:
    """Version ``n`` of a reply: every section carries the tag 版本标记V{n}; odd versions have one
    more section, so the number of chunks changes too. Every chunk id changes between versions."""
    tag = f"版本标记V{n:03d}"
    sections = [
        "一、关于城市供水水源保护",
        f"一是划定饮用水水源保护区并设立界标，{tag}。二是每月监测水源地水质并向社会公开，{tag}。",
        "二、关于供水管网改造",
        f"一是实施老旧供水管网改造工程，年内改造管网一百公里，{tag}。二是推广管网漏损智能监测，{tag}。",
        "三、关于应急供水保障",
        f"建立应急供水预案，储备应急水源和送水车辆，遇停水时按片区轮流送水，{tag}。",
    ]
    if n % 2:
        sections += ["四、关于节约用水宣传", f"在社区和学校开展节约用水宣传周活动，{tag}。"]
    header = (
        "贵阳市水务管理局关于市十五届人大三次会议第9100号代表建议的答复\n"
        "代表提案者: 测试代表\n会议届次: 市十五届人大三次会议\n"
        "建议提案标题: 关于加强城市供水保障的建议\n建议提案编号: 第9100号\n"
        "主办单位: 贵阳市水务管理局\n会办单位: 贵阳市生态环境局\n"
        "复文标题: 贵阳市水务管理局关于市十五届人大三次会议第9100号代表建议的答复\n答复内容:\n测试代表:\n"
        f"您提出的《关于加强城市供水保障的建议》收悉。现将办理情况答复如下，{tag}：\n"
    )
    return header + "\n".join(sections) + f"\n衷心感谢您对供水工作的关心和支持，{tag}！\n"


def version_texts(n: int, settings) -> set[str]:
    """The chunk texts version ``n`` is indexed as (parsed and chunked like ingestion does)."""
    from assistant.reading.chunking import chunk_document
    from assistant.reading.loaders import RawText
    from assistant.reading.parser import parse_reply

    doc = parse_reply(RawText(doc_id=VERSIONED_ID, text=versioned_reply(n), source="x"))
    return {c.text for c in chunk_document(doc, max_chars=settings.max_chunk_chars)}


def versions_in(citations: list[dict], texts: dict[int, set[str]]) -> set[int]:
    """The versions of the versioned reply that the given sources could all belong to."""
    mine = [c for c in citations if c["doc_id"] == VERSIONED_ID]
    tags = {int(t) for c in mine for t in VERSION_TAG.findall(c["text"])}
    assert len(tags) <= 1, f"sources from different versions in one answer: {sorted(tags)}"
    candidates = set(texts)
    for c in mine:
        candidates &= {n for n, ts in texts.items() if c["text"] in ts}
    assert candidates, f"a source matches no version of the document: {[c['text'][:60] for c in mine]}"
    return tags


@pytest.mark.timeout(600)
def test_answers_during_reingestion_come_from_one_version(tmp_path, model_settings, embedder):
    from assistant.core import Assistant

    versions = 16
    settings = model_settings.with_overrides(
        data_dir=tmp_path / "data", embedding_cache_path=TEST_CACHE / "reliability-embeddings.sqlite3")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    (corpus / f"{VERSIONED_ID}.txt").write_text(versioned_reply(0), encoding="utf-8")
    texts = {n: version_texts(n, settings) for n in range(versions + 1)}
    writer = Assistant(settings, embedder)
    assert not writer.ingest([corpus]).failed
    reader = Assistant(settings, embedder)  # a second Assistant on the same data directory
    reader.index.refresh_interval_s = 0.1

    done = threading.Event()
    errors: list[str] = []
    seen: dict[str, list[int | None]] = {"writer": [], "reader": []}
    ingested: list[float] = []

    def edit_and_reingest() -> None:
        try:
            for n in range(1, versions + 1):
                (corpus / f"{VERSIONED_ID}.txt").write_text(versioned_reply(n), encoding="utf-8")
                started = time.perf_counter()
                report = writer.ingest([corpus])
                assert report.updated == 1 and report.unchanged == 1, report
                ingested.append(time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001 — reported by the main thread
            errors.append(f"ingest: {exc!r}")
        finally:
            done.set()

    def ask_repeatedly(name: str, assistant: Assistant) -> None:
        i = 0
        while not done.is_set() or i < 8:
            question = VERSIONED_QUESTIONS[i % len(VERSIONED_QUESTIONS)]
            try:
                if i % 3 == 2:
                    events = list(assistant.stream(question))
                    kinds = [kind for kind, _ in events]
                    assert kinds[0] == "meta" and kinds[-1] == "done", kinds
                    answer = events[-1][1]
                    assert answer["sources"] == events[0][1]["sources"]
                else:
                    answer = assistant.ask(question).model_dump()
                tags = versions_in(answer["sources"] + answer["citations"], texts)
                if not answer["refused"]:
                    assert answer["citations"], answer
                    tags |= {int(t) for t in VERSION_TAG.findall(answer["answer"])}
                    assert len(tags) <= 1, f"the answer text mixes versions: {answer['answer']}"
                seen[name].append(next(iter(tags)) if tags else None)
            except BaseException as exc:  # noqa: BLE001
                errors.append(f"{name} asking {question!r}: {exc!r}")
            i += 1

    threads = [threading.Thread(target=edit_and_reingest),
               threading.Thread(target=ask_repeatedly, args=("writer", writer)),
               threading.Thread(target=ask_repeatedly, args=("reader", reader))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=500)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:5]
    assert len(ingested) == versions
    asked = len(seen["writer"]) + len(seen["reader"])
    record_figures("serving_while_ingesting", {
        "versions_ingested": len(ingested), "answers": asked,
        "versions_seen": {k: sorted({v for v in vs if v is not None}) for k, vs in seen.items()},
        "ingest_seconds_mean": round(sum(ingested) / len(ingested), 2)})
    for name in ("writer", "reader"):
        assert len({v for v in seen[name] if v is not None}) >= 2, f"{name} never saw a new version: {seen[name]}"
    # After the last ingest, both see the last version.
    time.sleep(0.3)
    for assistant in (writer, reader):
        assistant.index.snapshot  # noqa: B018 — triggers the reader's refresh check
        assistant.index.reload()
        final = assistant.ask(VERSIONED_QUESTIONS[0]).model_dump()
        assert versions_in(final["sources"], texts) == {versions}


@pytest.mark.timeout(600)
def test_a_serving_process_finds_vectors_ingested_by_another_process(tmp_path, model_settings, embedder):
    from assistant.core import Assistant

    settings = model_settings.with_overrides(
        data_dir=tmp_path / "data", embedding_cache_path=TEST_CACHE / "reliability-embeddings.sqlite3")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    serving = Assistant(settings, embedder)
    serving.ingest([corpus])
    serving.index.refresh_interval_s = 0.1
    assert serving.readiness()["ready"] and not serving.ask("惠水的土地政策有哪些？").refused  # it is serving
    (corpus / f"{VERSIONED_ID}.txt").write_text(versioned_reply(1), encoding="utf-8")
    IngestProcess(settings, corpus, tmp_path).run(None)  # another process: the CLI
    wait_for(lambda: any(c.startswith(VERSIONED_ID) for c in serving.index.snapshot.chunks), 30,
             "the serving process's snapshot to reload")
    new_ids = {c for c in serving.index.snapshot.chunks if c.startswith(VERSIONED_ID)}
    dense = serving.vectors.query(embedder.embed_query(VERSIONED_QUESTIONS[0]), 10)
    assert new_ids & {cid for cid, _ in dense}, "no vector of the new reply is found"
    assert not serving.ask(VERSIONED_QUESTIONS[0]).refused


# --------------------------------------------------------------------------------------------
# Dependencies failing: the Chroma server, the model folder
# --------------------------------------------------------------------------------------------

HUISHUI = "惠水的土地政策有哪些？"


def assert_polite_503(response, *words: str) -> str:
    assert response.status_code == 503, response.text
    assert "Traceback" not in response.text and "File \"" not in response.text
    message = response.json()["error"]["message"]
    assert any(w in message for w in words), message
    return message


@pytest.mark.server
@pytest.mark.timeout(600)
def test_chroma_server_outage_is_reported_and_recovers_without_restart(tmp_path, model_settings, embedder):
    import httpx
    from servers import ChromaServer
    from test_api import LiveServer

    from assistant.core import Assistant

    chroma = ChromaServer(tmp_path / "chroma-server").start()
    try:
        settings = model_settings.with_overrides(
            data_dir=tmp_path / "data", chroma_url=chroma.url,
            embedding_cache_path=TEST_CACHE / "reliability-embeddings.sqlite3")
        assistant = Assistant(settings, embedder)
        assert not assistant.ingest([ROOT / "corpus"]).failed
        with LiveServer(assistant, rate_limit_per_minute=100_000) as live, \
                httpx.Client(base_url=live.url, timeout=60) as client:
            assert client.get("/readyz").status_code == 200
            before = client.post("/api/chat", json={"question": HUISHUI})
            assert before.status_code == 200 and before.json()["citations"]

            chroma.stop()
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["checks"]["chroma"] is False
            assert "向量库" in ready.json()["message"]
            chat_down = assert_polite_503(client.post("/api/chat", json={"question": HUISHUI}), "向量库", "vector store")
            # The public message names no address: the server's location stays in the log.
            assert str(chroma.port) not in chat_down and "127.0.0.1" not in chat_down
            stream = client.post("/api/chat/stream", json={"question": HUISHUI})
            assert_polite_503(stream, "向量库", "vector store")
            assert client.get("/healthz").status_code == 200  # alive, just not ready

            # The same server comes back on the same port and path: no restart of the app.
            chroma = ChromaServer(tmp_path / "chroma-server", port=chroma.port).start()
            wait_for(lambda: client.get("/readyz").status_code == 200, 60, "readiness after the restart")
            after = client.post("/api/chat", json={"question": HUISHUI})
            assert after.status_code == 200, after.text
            assert after.json()["answer"] == before.json()["answer"]
            assert [c["chunk_id"] for c in after.json()["citations"]] == \
                [c["chunk_id"] for c in before.json()["citations"]]
        record_figures("chroma_outage", {"message_while_down": chat_down, "recovered_without_restart": True})
    finally:
        chroma.stop()


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], check=False, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(600)
def test_missing_or_corrupt_model_folder_is_rebuilt_by_the_cli(tmp_path, model_settings):
    from assistant.embedding import E5_FOLDER_NAME, manifest_problem

    settings = model_settings.with_overrides(data_dir=tmp_path / "data", models_path=tmp_path / "models")
    env = cli_env(settings)
    folder = settings.models_dir / E5_FOLDER_NAME

    built = run_cli(["models", "prepare"], env, tmp_path)  # nothing there yet
    assert built.returncode == 0, built.stderr
    assert "模型就绪 / model ready" in built.stdout
    assert manifest_problem(folder) is None
    weights = folder / "model.safetensors"
    size = weights.stat().st_size

    # Same size, different bytes (bit rot, a bad copy): only the hash can tell.
    with open(weights, "r+b") as handle:
        handle.seek(size // 2)
        chunk = handle.read(4096)
        handle.seek(size // 2)
        handle.write(bytes(b ^ 0xFF for b in chunk))
    assert "model.safetensors" in manifest_problem(folder)
    rebuilt = run_cli(["models", "prepare"], env, tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert manifest_problem(folder) is None and weights.stat().st_size == size

    # Truncated (a copy that stopped half way): found by size alone, rebuilt the same way.
    with open(weights, "r+b") as handle:
        handle.truncate(size // 3)
    (folder / "tokenizer.json").unlink()
    assert manifest_problem(folder) is not None
    again = run_cli(["models", "prepare"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert manifest_problem(folder) is None
    record_figures("model_folder", {"missing": "built", "flipped_bytes": "rebuilt",
                                    "truncated_and_file_missing": "rebuilt"})


def test_a_model_folder_that_cannot_be_made_is_reported_in_words(tmp_path, model_settings):
    blocked = tmp_path / "models-is-a-file"
    blocked.write_text("not a folder")
    settings = model_settings.with_overrides(data_dir=tmp_path / "data", models_path=blocked)
    result = run_cli(["models", "prepare"], cli_env(settings), tmp_path, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert str(blocked) in result.stderr
