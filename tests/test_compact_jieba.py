"""jieba over the memory-mapped dictionary cuts exactly as jieba over its own dict.

The compact tokenizer (``assistant/language/compact_jieba.py``) replaces jieba's 600k-entry ``FREQ``
dict by a trie file; these tests compare it with the full tokenizer it was written from — the place
names and terms added — on real text (the shipped reply, the work reports, 2,000 news articles, every
question set) and on random mixes of CJK, Latin letters, digits and punctuation, with and without HMM,
and through the project's token scheme (``Tokenizer.tokenize``, whose long-word parts use jieba's DAG).
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.language.compact_jieba import CompactJieba
from assistant.language.lexicon import Lexicon

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NEWS = SHARED / "crud-news" / "news-20k.jsonl.gz"
NEWS_ARTICLES = 2000


def _real_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((SHARED / "gov-work-reports").glob("*.txt"))]
    questions = [*ROOT.glob("eval/questions/*.jsonl"), *ROOT.glob("eval/holdout/*.jsonl"),
                 *SHARED.glob("replies-dev/questions*.jsonl")]
    for path in sorted(questions):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                texts += [item["question"], *(turn.get("content", "") if isinstance(turn, dict) else str(turn)
                                              for turn in item.get("history") or [])]
    if NEWS.is_file():
        with gzip.open(NEWS, "rt", encoding="utf-8") as handle:
            for _, line in zip(range(NEWS_ARTICLES), handle):
                texts.append(json.loads(line)["text"])
    return texts


@pytest.fixture(scope="module")
def lexicons(tmp_path_factory) -> tuple[Lexicon, Lexicon]:
    """(compact, full): the same resources, one over the trie files, one over jieba's own dict."""
    cache = tmp_path_factory.mktemp("jieba-cache")
    compact, full = Lexicon(cache_dir=cache), Lexicon(cache_dir=cache)
    assert isinstance(compact.tokens.jieba(), CompactJieba)
    full.tokens._jieba = full.tokens._build_full()
    assert not isinstance(full.tokens.jieba(), CompactJieba)
    return compact, full


def test_the_cut_is_identical_on_a_large_real_sample(lexicons: tuple[Lexicon, Lexicon]) -> None:
    compact, full = (lex.tokens.jieba() for lex in lexicons)
    texts = _real_texts()
    size = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    assert size > 2, "the sample should be megabytes of real text"
    seconds = {"full": 0.0, "compact": 0.0}
    for hmm in (True, False):
        for text in texts:
            started = time.perf_counter()
            expected = list(full.cut(text, HMM=hmm))
            seconds["full"] += time.perf_counter() - started
            started = time.perf_counter()
            got = list(compact.cut(text, HMM=hmm))
            seconds["compact"] += time.perf_counter() - started
            assert got == expected, (hmm, text[:80])
    print(f"\njieba cut on {size:.1f} MB x 2: {2 * size / seconds['full']:.2f} MB/s over jieba's dict, "
          f"{2 * size / seconds['compact']:.2f} MB/s over the trie")


def test_index_tokens_are_identical_on_a_large_real_sample(lexicons: tuple[Lexicon, Lexicon]) -> None:
    compact, full = lexicons
    for text in _real_texts():
        assert compact.tokenize(text) == full.tokenize(text), text[:80]


_PIECES = st.one_of(
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=12),
    st.sampled_from(["惠水县", "长顺", "城乡建设用地增减挂钩", "营商环境", "黔南布依族苗族自治州", "人民政府",
                     "贵阳贵安", "观山湖区", "建设用地", "的", "和", "了", "不"]),
    st.text(st.characters(min_codepoint=0x41, max_codepoint=0x7A), min_size=1, max_size=8),
    st.text("0123456789.%+-#&_", min_size=1, max_size=6),
    st.text("，。、；：？！“”（）《》 \n\t,.;:?!()[]{}'\"/\\", min_size=1, max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_the_cut_is_identical_on_random_mixes(lexicons: tuple[Lexicon, Lexicon], text: str) -> None:
    compact, full = (lex.tokens.jieba() for lex in lexicons)
    for hmm in (True, False):
        assert list(compact.cut(text, HMM=hmm)) == list(full.cut(text, HMM=hmm))
    dag = full.get_DAG(text)
    assert compact.get_DAG(text) == dag
    expected: dict = {}
    got: dict = {}
    full.calc(text, dag, expected)
    compact.calc(text, dag, got)
    assert got == expected
    assert lexicons[0].tokenize(text) == lexicons[1].tokenize(text)


def test_counts_are_jiebas(lexicons: tuple[Lexicon, Lexicon]) -> None:
    compact, full = (lex.tokens.jieba() for lex in lexicons)
    assert compact.total == full.total
    words = [w for w, count in full.FREQ.items() if count]
    assert len(compact.FREQ) == len(words)
    assert all(compact.FREQ.get(w) == full.FREQ[w] for w in words[::97])
    assert compact.FREQ.get("惠水县") == full.FREQ["惠水县"] >= 2000  # a place name, added by us
    assert not compact.FREQ.get("城乡建设用地增减") and compact.FREQ.get("没有的词", 0) == 0
    with pytest.raises(TypeError):
        compact.add_word("新词")


def test_files_are_written_once_and_rewritten_when_torn(tmp_path: Path) -> None:
    first = Lexicon(cache_dir=tmp_path)
    tokens = first.tokenize("惠水县和长顺的土地要素")
    files = sorted(tmp_path.glob("assistant-jieba-*"))
    assert [p.name.split(".", 1)[1] for p in files] == ["counts.npy", "marisa"]
    assert not list(tmp_path.glob("*.tmp"))
    stamps = [p.stat().st_mtime_ns for p in files]
    assert Lexicon(cache_dir=tmp_path).tokenize("惠水县和长顺的土地要素") == tokens
    assert [p.stat().st_mtime_ns for p in files] == stamps  # opened, not written again

    files[1].write_bytes(files[1].read_bytes()[:1000])  # a torn trie
    files[0].unlink()  # and the counts gone
    assert Lexicon(cache_dir=tmp_path).tokenize("惠水县和长顺的土地要素") == tokens
    assert len(files[1].read_bytes()) > 1000 and files[0].is_file()


def test_the_files_are_keyed_by_the_fingerprint(tmp_path: Path) -> None:
    lex = Lexicon(cache_dir=tmp_path)
    lex.tokens.jieba()
    (name,) = {p.name.split(".")[0] for p in tmp_path.glob("assistant-jieba-*")}
    assert lex.fingerprint in name


def test_a_cache_folder_that_cannot_be_written_leaves_each_process_its_own_copy(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    lex = Lexicon(cache_dir=blocked)
    assert lex.tokenize("惠水县和长顺的土地要素") == ["惠水", "惠水县", "长顺", "土地", "要素", "土地要素"]
    assert "cannot write jieba's compact dictionary" in caplog.text
