"""The snapshot's shared files: built once per registry state, mapped, identical to an in-memory build.

A real SQLite registry (no embeddings: the files hold only the keyword index and the chunks), real
files, and real processes for the concurrent start.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
from pathlib import Path

import numpy as np
import pytest

from assistant.index import snapshot_files
from assistant.index.keyword_index import KeywordIndex
from assistant.index.registry import DocumentRecord, Registry
from assistant.index.search_index import Snapshot
from assistant.schema import Chunk

WORDS = ["养老", "服务", "医疗", "教育", "交通", "住房", "就业", "补贴", "社区", "改造", "公交", "学校",
         "医保", "残疾人", "托育", "停车", "垃圾", "分类", "菜市场", "电梯"]


def _document(registry: Registry, n: int, rng: random.Random, version: str = "") -> None:
    doc_id = f"doc-{n:03d}"
    chunks, tokens = [], []
    for order in range(rng.randint(1, 4)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
        text = "".join(words) + version + "。"
        chunks.append(Chunk(chunk_id=f"{doc_id}:{order}{version}", doc_id=doc_id, doc_title=f"关于{words[0]}的建议",
                            text=text, index_text=f"标题 > {text}", section=f"{order + 1}、", order=order,
                            kind="intro" if n % 3 == 0 else "section", start=order * 10, end=order * 10 + len(text),
                            suggestion_no=f"第{n}号" if n % 2 else "", source=f"{doc_id}.txt", issuer="市民政局",
                            date=f"2024-05-0{1 + n % 9}"))
        tokens.append(words)
    record = DocumentRecord(doc_id, f"{doc_id}.txt", f"hash{version}", chunks[0].doc_title, chunks[0].suggestion_no,
                            "", "凌毅代表", "", len(chunks), {}, {"issuer": "市民政局"})
    registry.replace_document(record, chunks, tokens)


@pytest.fixture
def registry(tmp_path) -> Registry:
    registry = Registry(tmp_path / "data" / "registry.sqlite3")
    rng = random.Random(7)
    for n in range(40):
        _document(registry, n, rng)
    return registry


def _in_memory(registry: Registry) -> tuple[KeywordIndex, dict[str, Chunk]]:
    keyword, chunks = KeywordIndex(), {}

    def streamed():
        for chunk, tokens in registry.iter_chunks():
            chunks[chunk.chunk_id] = chunk
            yield chunk.chunk_id, tokens

    keyword.load(streamed())
    return keyword, chunks


def _assert_same(files: snapshot_files.IndexFiles, registry: Registry) -> None:
    keyword, chunks = _in_memory(registry)
    assert files.documents == registry.documents()
    assert list(files.chunks) == list(chunks)
    assert {cid: files.chunks[cid] for cid in chunks} == chunks
    rng = random.Random(1)
    for _ in range(50):
        terms = rng.sample(WORDS, rng.randint(1, 4)) + ["从未出现"]
        assert files.keyword.search(terms, 20) == keyword.search(terms, 20)  # scores bit for bit
        assert files.keyword.idf_of(terms) == keyword.idf_of(terms)
        some = rng.sample(list(chunks), 10)
        assert (files.keyword.mask_for(some) == keyword.mask_for(some)).all()
        assert (files.keyword.contains([tuple(terms[:2])], some) == keyword.contains([tuple(terms[:2])], some)).all()


def _folders(registry: Registry) -> list[Path]:
    return sorted(p for p in (registry.path.parent / snapshot_files.FOLDER).iterdir() if p.is_dir())


def test_files_are_built_once_and_match_an_in_memory_index(registry):
    files = snapshot_files.open_or_build(registry)
    _assert_same(files, registry)
    [folder] = _folders(registry)
    assert folder.name.startswith(f"g{registry.generation()}-")
    built_at = (folder / "data.npy").stat().st_mtime_ns
    again = snapshot_files.open_or_build(registry)  # a second worker: opens, does not build
    assert (folder / "data.npy").stat().st_mtime_ns == built_at and _folders(registry) == [folder]
    assert again.keyword.search(["养老"], 5) == files.keyword.search(["养老"], 5)
    assert not isinstance(again.keyword.vocab, dict)  # mapped, not rebuilt into Python objects


def test_a_new_generation_gets_new_files_and_the_old_ones_go(registry):
    old = snapshot_files.open_or_build(registry)
    [before] = _folders(registry)
    _document(registry, 5, random.Random(3), version="v2")  # replaces doc-005 with other chunks
    files = snapshot_files.open_or_build(registry)
    [after] = _folders(registry)
    assert after != before and files.generation == registry.generation()
    _assert_same(files, registry)
    assert old.keyword.search(["养老"], 5)  # a process still on the old files keeps its pages


def test_a_rebuilt_registry_at_the_same_generation_does_not_reuse_the_files(tmp_path, registry):
    snapshot_files.open_or_build(registry)
    [before] = _folders(registry)
    other = Registry(tmp_path / "other" / "registry.sqlite3")
    rng = random.Random(99)
    for n in range(40):
        _document(other, n, rng, version="x")
    assert other.generation() == registry.generation()
    (tmp_path / "other" / snapshot_files.FOLDER).mkdir()
    before.rename(tmp_path / "other" / snapshot_files.FOLDER / before.name)  # same generation, other chunks
    files = snapshot_files.open_or_build(other)
    _assert_same(files, other)


@pytest.mark.parametrize("damage", ["truncate", "manifest", "format", "missing"])
def test_torn_or_foreign_files_are_ignored_and_rebuilt(registry, damage, caplog):
    snapshot_files.open_or_build(registry)
    [folder] = _folders(registry)
    if damage == "truncate":
        data = folder / "data.npy"
        data.write_bytes(data.read_bytes()[:-40])
    elif damage == "manifest":
        (folder / snapshot_files.MANIFEST).write_text("{not json", encoding="utf-8")
    elif damage == "format":
        manifest = json.loads((folder / snapshot_files.MANIFEST).read_text(encoding="utf-8"))
        (folder / snapshot_files.MANIFEST).write_text(json.dumps({**manifest, "format": 0}), encoding="utf-8")
    else:
        (folder / "texts.bin").unlink()
    files = snapshot_files.open_or_build(registry)
    _assert_same(files, registry)
    assert "ignoring the snapshot files" in caplog.text
    assert len(_folders(registry)) == 1


def test_an_unwritable_data_directory_still_serves(registry, caplog):
    (registry.path.parent / snapshot_files.FOLDER).write_text("not a folder")  # mkdir fails as on a read-only disk
    files = snapshot_files.open_or_build(registry)
    _assert_same(files, registry)
    assert "building them privately" in caplog.text


def _open_in_process(path: str, log_file: str, out) -> None:
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(process)d %(message)s")
    files = snapshot_files.open_or_build(Registry(Path(path)))
    out.put(files.keyword.search(["养老", "服务"], 10))


def test_workers_starting_together_build_the_files_once(registry):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    log_file = registry.path.parent / "workers.log"
    workers = [ctx.Process(target=_open_in_process, args=(str(registry.path), str(log_file), out)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    keyword, _ = _in_memory(registry)
    assert results == [keyword.search(["养老", "服务"], 10)] * 3
    root = registry.path.parent / snapshot_files.FOLDER
    assert len(_folders(registry)) == 1 and not list(root.glob(".build-*"))
    builds = [line for line in log_file.read_text(encoding="utf-8").splitlines() if "building the snapshot" in line]
    assert len(builds) == 1, builds  # the others waited on the lock and mapped that build


def test_a_mapped_index_still_takes_additions_and_removals(registry):
    files = snapshot_files.open_or_build(registry)
    keyword, _ = _in_memory(registry)
    first = keyword.ids[0]
    for index in (files.keyword, keyword):
        index.add([("new:1", ["新词", "养老"]), (first, ["替换"])])
    for terms in (["新词"], ["养老"], ["替换"], ["服务"]):
        assert files.keyword.search(terms, 50) == keyword.search(terms, 50)
    for index in (files.keyword, keyword):
        index.remove(["new:1"])
        index.rebuild()
    for terms in (["新词"], ["养老"], ["替换"]):
        assert files.keyword.search(terms, 50) == keyword.search(terms, 50)


def test_the_snapshot_holds_the_same_chunks_groups_and_documents(registry):
    snap = Snapshot.load(registry)
    _, chunks = _in_memory(registry)
    by_doc: dict[str, list[str]] = {}
    for chunk in chunks.values():
        by_doc.setdefault(chunk.doc_id, []).append(chunk.chunk_id)
    assert dict(snap.by_doc) == by_doc
    structured = {c.doc_id for c in chunks.values() if c.kind != "intro"}
    structured |= {d.doc_id for d in registry.documents() if d.suggestion_no}
    assert snap.structured_docs == frozenset(structured)
    assert len(snap.chunks) == len(chunks) and "nope:1" not in snap.chunks
    assert np.array_equal(snap.keyword.lengths, _in_memory(registry)[0].lengths)


def test_an_empty_registry_has_empty_files(tmp_path):
    registry = Registry(tmp_path / "registry.sqlite3")
    snap = Snapshot.load(registry)
    assert len(snap.chunks) == 0 and snap.keyword.search(["养老"], 5) == [] and dict(snap.by_doc) == {}


def test_publishing_where_nothing_can_be_written_builds_nothing(registry, caplog):
    (registry.path.parent / snapshot_files.FOLDER).write_text("not a folder")
    assert snapshot_files.open_or_build(registry, private=False) is None
    assert "cannot write the snapshot files" in caplog.text and "privately" not in caplog.text
