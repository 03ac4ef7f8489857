"""Answering without torch: the serving bundle, ``QueryEmbedder`` and ``Assistant.for_serving``.

Real model, real bundle files, real Chroma, a real subprocess: the serving path must give the torch-loaded
path's question vectors bit for bit and its answers byte for byte, import none of torch, transformers or
sentence-transformers, and refuse to start (Chinese first, then English, naming the command to run) when
its bundle is missing, torn, disagrees with torch, or belongs to another model than the index's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import ModelUnavailableError, PassagesNeedTorch, QueryEmbedder
from assistant.embedding.bundle import BUNDLE_FORMAT, ENCODER, PROBES, TOKENIZER, ServingBundle, bundle_folder
from assistant.embedding.folders import write_manifest
from assistant.embedding.unigram import IDS, PIECES
from assistant.index.registry import Registry
from assistant.index.sentence_vectors import MODEL_META

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "corpus" / "reply-616-guiyang.txt").read_text(encoding="utf-8")

#: Questions as people type them, and texts that stress the tokenizer and the windows.
TEXTS = [
    "惠水的土地政策有哪些？", "What measures address land for Huishui?", "那税收呢？", "",
    "２０２３年全省ＧＤＰ增长４．９％", "tabs\tand\nnew lines\u3000and\u00a0spaces", "  leading spaces",
    "😀 表情 👨‍👩‍👧 ❤️", "combining: e\u0301 Ａ\u0301", "rare 𠀀𠀁 𪚥 龘", "<s> literal </s> markers <unk>",
    "控制字符\x01\x7f", "Привет, こんにちは, 안녕하세요", SEED[:1500], SEED[:3000],
]


def _random_texts(n: int) -> list[str]:
    rng = random.Random(21)
    alphabet = (list("惠水县土地用地金融 abcXYZ012 ，。！？,.!?\t\n<>/s") + [chr(c) for c in range(0xFF01, 0xFF5F)]
                + [chr(c) for c in range(0x300, 0x36F)] + [chr(c) for c in range(0x20000, 0x20040)]
                + [chr(c) for c in range(0x1F600, 0x1F650)] + list("\u200b\u200d\ufe0f\u3000\u2581")
                + ["<s>", "</s>", "<unk>", "<pad>", "<mask>"])
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(n)]


@pytest.fixture(scope="module")
def bundle_dir(embedder, model_settings) -> Path:
    """The session embedder's bundle (written by Embedder.from_settings)."""
    folder = bundle_folder(model_settings.models_dir, embedder.model_id)
    assert (folder / ENCODER).is_file()
    return folder


@pytest.fixture(scope="module")
def query_embedder(embedder, model_settings) -> QueryEmbedder:
    return QueryEmbedder.for_index(model_settings, embedder.model_id)


def _linked_models(bundle_dir: Path, tmp_path: Path) -> Path:
    """A models folder holding a hard-linked copy of the bundle (no 470 MB copied); a test that damages
    a file replaces it rather than writing through the link."""
    models = tmp_path / "models"
    shutil.copytree(bundle_dir, models / "onnx" / bundle_dir.name, copy_function=os.link)
    return models


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


# ---- the bundle ----------------------------------------------------------------------------------

def _wild_texts(n: int) -> list[str]:
    """Any code points (no lone surrogates: questions lose them), with spaces and special-token strings."""
    rng = random.Random(616)
    chars = [c for c in (chr(rng.randint(1, 0x2FFFF)) for _ in range(3000)) if not 0xD800 <= ord(c) < 0xE000]
    chars += list(" \t\n<>s/\u3000\u2581") + ["<s>", "</s>", "<unk>", "＜ｕｎｋ＞", "<mask>"]
    return ["".join(rng.choice(chars) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def test_bundle_tokenizer_gives_transformers_ids(embedder, bundle_dir, tmp_path):
    """The serving tokenizer (unigram.py over the bundle's tokenizer.json) gives exactly the ids of the
    transformers tokenizer the torch process uses, on hard strings, special-token strings in any
    position, every evaluation question and texts of several windows."""
    from assistant.embedding.unigram import UnigramTokenizer

    tokenizer = ServingBundle.open(bundle_dir).tokenizer()
    assert isinstance(tokenizer, UnigramTokenizer)
    questions = [json.loads(line)["question"] for path in sorted((ROOT / "eval" / "questions").glob("*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    edges = ["<s>", "<s> a", "a<s>b", "<s>\x01", " <s>", "<s>  x", "x</s>", "a ＜ｕｎｋ＞ b", "\x01", " ", "▁▁a"]
    texts = TEXTS + edges + questions + _random_texts(1000) + _wild_texts(2000)
    theirs = embedder.model.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    ours = tokenizer.encode_batch(texts)
    wrong = [(t, a, b) for t, a, b in zip(texts, ours, theirs) if a != b]
    assert not wrong, f"{len(wrong)} of {len(texts)} texts tokenised differently, e.g. {wrong[:2]}"
    os.link(bundle_dir / TOKENIZER, tmp_path / TOKENIZER)  # tokenizer.json alone: read without the compact files
    assert UnigramTokenizer.load(tmp_path / TOKENIZER).encode_batch(texts[:500]) == theirs[:500]


def test_bundle_describes_the_model(embedder, bundle_dir):
    bundle = ServingBundle.open(bundle_dir)
    assert bundle.model_id == embedder.model_id and bundle.dim == embedder.dim
    assert (bundle.query_prefix, bundle.passage_prefix) == (embedder.query_prefix, embedder.passage_prefix)
    assert bundle.layout == embedder.layout
    table = bundle.table()
    assert isinstance(table, np.memmap) and not table.flags.writeable  # shared through the page cache
    assert np.array_equal(table[[0, 5, 250000]], embedder.model[0].auto_model.embeddings.word_embeddings.weight
                          .detach().numpy()[[0, 5, 250000]])


# ---- QueryEmbedder -------------------------------------------------------------------------------

def test_question_vectors_are_the_torch_loaded_paths_bit_for_bit(embedder, query_embedder):
    """Same graph, table, tokens, windows and batches as the Embedder's ONNX queries: equal bits."""
    assert not embedder.query_encoder.int8
    texts = TEXTS + _random_texts(40)
    assert np.array_equal(query_embedder.embed_queries(texts), embedder.embed_queries(texts))
    question = "贵阳贵安如何统一管理土地？"
    first = query_embedder.embed_query(question)
    assert query_embedder.embed_query(question) is first and not first.flags.writeable  # the LRU
    assert np.array_equal(first, embedder.embed_query(question))


def test_passages_need_the_torch_embedder(query_embedder):
    with pytest.raises(PassagesNeedTorch, match="assistant ingest"):
        query_embedder.embed_passages(["一段文字"])
    with pytest.raises(PassagesNeedTorch):
        query_embedder.embed_passages_cached(["一段文字"], cache=None)


def test_int8_bundle_graph_is_quantised_on_demand(embedder, model_settings, bundle_dir, tmp_path):
    settings = model_settings.with_overrides(models_path=_linked_models(bundle_dir, tmp_path), query_int8=True)
    int8 = QueryEmbedder.for_index(settings, embedder.model_id)
    assert int8.query_encoder.int8 and int8.query_encoder.path.name == "encoder-int8.onnx"
    texts = [t for t in TEXTS[:8] if t]  # real text: the empty one is not a question
    cos = (int8.embed_queries(texts) * embedder.embed_queries(texts)).sum(1)
    assert cos.min() >= 0.99


# ---- refusing to start ---------------------------------------------------------------------------

def _refusal(settings, model_id) -> str:
    with pytest.raises(ModelUnavailableError) as raised:
        QueryEmbedder.for_index(settings, model_id)
    message = str(raised.value)
    zh, _, en = message.partition(" / ")
    assert zh and en and any("\u4e00" <= c <= "\u9fff" for c in zh), message  # Chinese first, then English
    return message


def test_missing_bundle_says_which_command_writes_it(embedder, model_settings, tmp_path):
    settings = model_settings.with_overrides(models_path=tmp_path / "empty-models")
    message = _refusal(settings, embedder.model_id)
    assert "assistant models prepare" in message and "assistant ingest" in message
    assert embedder.model_id in message
    assert "assistant models prepare" in _refusal(settings, None)  # an index that records no model


@pytest.mark.parametrize("damage", ["manifest", TOKENIZER, ENCODER, PIECES, IDS])
def test_torn_bundle_is_refused(embedder, model_settings, bundle_dir, tmp_path, damage):
    models = _linked_models(bundle_dir, tmp_path)
    folder = models / "onnx" / bundle_dir.name
    if damage == "manifest":
        (folder / "manifest.json").unlink()  # a bundle whose writing never finished
    else:  # the mapped trie and ids too: the manifest covers every file of the bundle
        _replace(folder / damage, (folder / damage).read_bytes()[:1000])
    message = _refusal(model_settings.with_overrides(models_path=models), embedder.model_id)
    assert damage in message


def test_encoder_that_disagrees_with_torch_is_refused(embedder, model_settings, bundle_dir, tmp_path):
    models = _linked_models(bundle_dir, tmp_path)
    folder = models / "onnx" / bundle_dir.name
    probes = np.load(folder / PROBES)
    rng = np.random.default_rng(0)
    (folder / PROBES).unlink()
    np.save(folder / PROBES, rng.standard_normal(probes.shape).astype(np.float32))
    write_manifest(folder, {"bundle_format": BUNDLE_FORMAT, "model_id": embedder.model_id})  # intact, yet wrong
    message = _refusal(model_settings.with_overrides(models_path=models), embedder.model_id)
    assert "cosine to torch" in message


def test_index_of_another_model_is_refused(embedder, model_settings, bundle_dir):
    assert "other-model#0123456789abcdef" in _refusal(model_settings, "other-model#0123456789abcdef")
    message = _refusal(model_settings.with_overrides(embedding_model=str(ROOT / "no-such-model")),
                       embedder.model_id)
    assert "assistant ingest" in message and "ASSISTANT_EMBEDDING_MODEL" in message
    assert "built with" in message


# ---- Assistant.for_serving, in a process of its own -------------------------------------------------

QUESTIONS = [("惠水的土地政策有哪些？", []), ("What measures address land for Huishui?", []),
             ("那税收呢？", [{"role": "user", "content": "惠水的土地政策有哪些？"},
                          {"role": "assistant", "content": "加快推动城市群内土地市场一体化建设。"}]),
             ("宁波地铁6号线什么时候开通？", [])]


def _comparable(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def test_for_serving_answers_like_the_torch_process_without_importing_torch(seed_assistant, seed_settings):
    """A serving process answers Chinese, English, a follow-up and an unanswerable question exactly as
    the torch-loaded Assistant does, and torch, transformers, sentence-transformers never load."""
    script = textwrap.dedent("""
        import json, sys
        from assistant.core import Assistant
        from assistant.settings import Settings
        settings = Settings(**json.loads(sys.argv[1]))
        assistant = Assistant.for_serving(settings)
        assistant.warm_up()
        answers = [assistant.ask(q, h).model_dump(mode="json") for q, h in json.loads(sys.argv[2])]
        heavy = sorted({"torch", "transformers", "sentence_transformers"} & set(sys.modules))
        print(json.dumps({"answers": answers, "heavy": heavy}, ensure_ascii=False))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, seed_settings.model_dump_json(), json.dumps(QUESTIONS)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["heavy"] == []
    expected = [seed_assistant.ask(q, h).model_dump(mode="json") for q, h in QUESTIONS]
    assert [a["refused"] for a in expected] == [False, False, False, True]  # the questions test what they claim
    assert [_comparable(a) for a in served["answers"]] == [_comparable(a) for a in expected]


def test_for_serving_refuses_an_index_built_with_another_model(seed_settings, tmp_path):
    settings = seed_settings.with_overrides(data_dir=tmp_path / "data")
    Registry(settings.registry_path).set_meta(MODEL_META, "other-model#0123456789abcdef")
    from assistant.core import Assistant

    with pytest.raises(ModelUnavailableError, match="other-model#0123456789abcdef"):
        Assistant.for_serving(settings)


def test_a_serving_assistant_still_publishes_and_removes(seed_settings, tmp_path):
    """An administrator's upload in a serving process: the ingest runs in a spawned child with the torch
    Embedder (the QueryEmbedder cannot embed passages), so torch never enters the serving process; the
    snapshot then answers from the new document; removing needs no model at all."""
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from assistant.core import Assistant
        from assistant.index.registry import Registry
        from assistant.index.sentence_vectors import MODEL_META
        from assistant.settings import Settings
        settings = Settings(**json.loads(sys.argv[1]))
        assistant = Assistant.for_serving(settings)  # a fresh index: it records no model yet
        report = assistant.ingest([Path(sys.argv[2])])
        answered = assistant.ask("惠水的土地政策有哪些？")
        recorded = Registry(settings.registry_path).get_meta(MODEL_META) == assistant.embedder.model_id
        removed = Assistant.for_serving(settings).remove([d["doc_id"] for d in assistant.documents()])
        assistant.index.reload()
        heavy = sorted({"torch", "transformers", "sentence_transformers"} & set(sys.modules))
        print(json.dumps({"added": report.added, "failed": len(report.failed), "recorded": recorded,
                          "answered": not answered.refused and bool(answered.citations), "removed": removed,
                          "refused_after": assistant.ask("惠水的土地政策有哪些？").refused, "heavy": heavy}))
    """)
    settings = seed_settings.with_overrides(data_dir=tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, settings.model_dump_json(), str(ROOT / "corpus")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "added": 1, "failed": 0, "recorded": True, "answered": True, "removed": 1, "refused_after": True,
        "heavy": []}
