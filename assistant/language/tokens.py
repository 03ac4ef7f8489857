"""Index tokens: the one token scheme documents and questions share, so that they meet in BM25.

BM25 is only as good as its tokens. Out of the box jieba splits the words this domain is about
(营商/环境, 建设/用地, 黔/中/城市群, 观/山湖) and place names — the most selective words in a
reply — come out in pieces. The place names (``divisions.tsv``, ``place_areas.tsv``) and the user
dictionary ``gov_terms.txt`` fix that.

Token scheme (the same for documents and questions):

1. NFKC, lower case, apostrophes inside Latin words removed (``Gui'an`` → ``guian``);
2. jieba's accurate cut with HMM, on a private ``jieba.Tokenizer`` holding the place names and terms;
3. search mode, done hierarchically: a known word of three or more characters also yields the words
   it is made of, at every level (``城乡建设用地增减挂钩`` → 城乡, 建设用地, 建设, 用地, 增减挂钩, 增减,
   挂钩), so a question that says ``用地`` meets a reply that says the whole term. jieba's own
   ``cut_for_search`` adds blind 2- and 3-grams instead, which hide 4-character words and invent
   ones across boundaries (``民政`` out of ``人民政府``);
4. words that no dictionary knows (HMM-made, e.g. new names such as ``贵惠大道``) also yield their
   character bigrams — see below;
5. punctuation, white space and stopwords dropped; Latin words get a light plural strip
   (``taxes`` → ``tax``, ``measures`` → ``measure``) so English questions meet English documents.

Why not character bigrams over all Chinese text: bigrams make segmentation mismatches harmless, but
they double the index, count every matched word twice in BM25 (once as a word, once per bigram,
so long common phrases outweigh a rare exact term), and create junk across word boundaries
(``县的``, ``和长``). Mismatches are rare here because both sides go through the same segmenter
with the same dictionaries, and the dense side already covers fuzzy matches. The one place where
segmentation is unstable is text jieba does not know, which the HMM cuts by context — only there
are bigrams added. The scheme is deterministic; jieba's cut dominates its cost (about 0.8 MB/s of
UTF-8 on one core for new text), and text blocks that recur — titles and heading paths repeated in
every chunk's index text — are memoised.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.language.wordlists import read_lines, read_userdict

if TYPE_CHECKING:  # jieba is imported lazily: importing this module must stay cheap
    import jieba

    from assistant.language.compact_jieba import CompactJieba
    from assistant.language.places import PlaceNames

__all__ = ["TOKENIZER_VERSION", "Tokenizer", "fold", "normalize", "stem"]

#: Bump when ``tokenize`` changes how it cuts text, so that indexes re-tokenise their documents.
TOKENIZER_VERSION = "2"
#: The files that decide how a text is cut (see :attr:`Tokenizer.fingerprint`).
TOKEN_FILES = ("divisions.tsv", "place_areas.tsv", "place_ambiguous.txt", "place_generic.txt",
               "gov_terms.txt", "stopwords.txt")

_APOSTROPHE = re.compile(r"(?<=[A-Za-z])['’‘`´](?=[A-Za-z])")
# jieba cuts text in these blocks anyway (its re_han_default); cutting block by block lets us memoise.
_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+)")
_CONTENT = re.compile(r"[^\W_]")  # a token must hold a letter, digit or CJK character
_PLACE_FREQ = 2000  # a division's full name outweighs any split of it


def normalize(text: str) -> str:
    """The token form of a text, which every comparison of words uses: NFKC, lower case,
    ``Gui'an`` → ``guian`` (white space kept: it separates English words)."""
    return fold(text).lower()


def fold(text: str) -> str:
    """NFKC with apostrophes inside Latin words removed, case kept (the glossary needs case)."""
    return _APOSTROPHE.sub("", unicodedata.normalize("NFKC", text))


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def stem(word: str) -> str:
    """Strip an English plural (after Harman's S-stemmer), so ``taxes`` meets ``tax``.

    Deliberately weak: it never touches words of three letters or fewer, ``-ss``/``-us``/``-is``
    endings, digits or non-Latin text, so it cannot merge unrelated words the way a full stemmer can.
    """
    if len(word) <= 3 or word[-1] != "s" or not (word.isascii() and word.isalpha()):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


class Tokenizer:
    """jieba with the user dictionaries, the stopwords and the place names' short forms.

    The jieba tokenizer is built on first use (under a second once jieba's own cache exists in
    ``cache_dir``, the temp folder by default). Instances are safe to share between threads.
    """

    def __init__(self, resources_dir: Path, places: PlaceNames, cache_dir: Path | None = None) -> None:
        self.resources_dir = resources_dir
        self.cache_dir = cache_dir
        self.places = places
        self.stopwords: frozenset[str] = frozenset(
            normalize(line) for _, line in read_lines(resources_dir / "stopwords.txt"))
        self._jieba: CompactJieba | None = None
        self._parts_cache: dict[str, tuple[str, ...]] = {}
        self._block_cache: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        """Identity of how documents are cut: the files of :data:`TOKEN_FILES`, the token scheme
        (:data:`TOKENIZER_VERSION`) and jieba's version."""
        h = hashlib.sha256(f"{TOKENIZER_VERSION}\0{importlib.metadata.version('jieba')}".encode())
        for name in TOKEN_FILES:
            h.update(b"\0" + (self.resources_dir / name).read_bytes())
        return h.hexdigest()[:16]

    def jieba(self) -> CompactJieba:
        """The private jieba tokenizer, built by the first caller."""
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    self._jieba = self._build()
        return self._jieba

    def _build(self) -> CompactJieba:
        """A private jieba tokenizer holding both user dictionaries, over a memory-mapped dictionary.

        A private instance keeps our words out of the global ``jieba`` that other code may use. The
        merged dictionary (jieba's 350k words, the place names and terms) is kept in a trie file in
        ``cache_dir`` (default: the temp folder), keyed by :meth:`fingerprint`, and mapped by every
        process (see :mod:`~assistant.language.compact_jieba`: milliseconds instead of the second
        jieba's own cache takes, and no per-process copy of a 600k-entry dict). It is written once,
        from the full tokenizer :meth:`_build_full` makes.
        """
        from assistant.language import compact_jieba  # imports jieba: not when this module is

        folder = self.cache_dir or Path(tempfile.gettempdir())
        return compact_jieba.open_or_write(folder, self.fingerprint(), self._build_full)

    def _build_full(self) -> jieba.Tokenizer:
        """jieba's tokenizer with the place names and ``gov_terms.txt`` added (the compact files' source).

        Loading is dominated by jieba's 350k-word prefix dictionary, which jieba itself caches as
        a marshal file in ``cache_dir``: about 0.8 s warm, 1–1.2 s on the very first run; jieba
        writes it to a temporary file and renames it. Our ~940 words take about 10 ms to add.
        """
        import jieba  # lazy on purpose: nothing should happen when this module is imported

        tokenizer = jieba.Tokenizer()
        if self.cache_dir is not None:
            tokenizer.tmp_dir = str(self.cache_dir)
        jieba_log = logging.getLogger("jieba")
        level = jieba_log.level
        jieba_log.setLevel(logging.CRITICAL)  # jieba reports its progress on stderr
        try:
            tokenizer.initialize()
        finally:
            jieba_log.setLevel(level)
        places = self.places
        for word in places.full_forms:  # 惠水县, 黔南布依族苗族自治州: always one word, a place
            tokenizer.add_word(word, max(_PLACE_FREQ, tokenizer.FREQ.get(word) or 0), "ns")
        for short in set(places.canonical.values()) - places.full_forms - places.ambiguous:
            if not tokenizer.FREQ.get(short):  # 闵行: just strong enough to stay whole (jieba's suggestion)
                tokenizer.add_word(short, None, "ns")
        for word, freq, tag in read_userdict(self.resources_dir / "gov_terms.txt"):
            # A user dictionary may make a word stronger, never weaker than jieba's own count.
            base = tokenizer.FREQ.get(word) or 0
            tokenizer.add_word(word, max(freq or 0, base) or None, tag)
        return tokenizer

    def cut(self, text: str) -> list[str]:
        """jieba's words of the normalised text, nothing dropped (places are found among them)."""
        return list(self.jieba().cut(normalize(text)))

    def tokenize(self, text: str) -> list[str]:
        """Index tokens of ``text`` (see the module docstring for the scheme), in text order.

        Duplicates are kept: BM25 counts term frequency.
        """
        out: list[str] = []
        memo = self._block_cache
        for block in _BLOCK.split(normalize(text)):
            if not block or block.isspace():
                continue
            tokens = memo.get(block)
            if tokens is None:
                tokens = self._tokenize_block(block)
                if len(block) <= 64:  # headings, titles and stock phrases recur in every chunk
                    if len(memo) > 100_000:
                        memo.clear()
                    memo[block] = tokens
            out.extend(tokens)
        return out

    def _tokenize_block(self, block: str) -> tuple[str, ...]:
        tokenizer = self.jieba()
        freq = tokenizer.FREQ
        stopwords = self.stopwords
        out: list[str] = []
        for word in tokenizer.cut(block):
            if len(word) > 2 and _is_cjk(word[0]):
                if freq.get(word):
                    out.extend(self._parts(word))
                else:  # unknown to every dictionary: its segmentation is unstable, add bigrams
                    out.extend(word[i : i + 2] for i in range(len(word) - 1))
            elif word.isascii():
                # Single Latin letters (the r and d of r&d) carry nothing.
                if (len(word) == 1 and word.isalpha()) or not _CONTENT.search(word) or word in stopwords:
                    continue
                word = stem(word)
            elif not _CONTENT.search(word):
                continue
            if word not in stopwords:
                out.append(word)
        return tuple(out)

    def _parts(self, word: str) -> tuple[str, ...]:
        """The dictionary words a long known word is made of, at every level, inner ones first.

        jieba's best segmentation of the word with the word itself left out, recursively:
        城乡建设用地增减挂钩 → 城乡, 建设, 用地, 建设用地, 增减, 挂钩, 增减挂钩. Single characters and
        stopwords are left out. Place names are the exception: a full form yields just its short
        form (万山区 → 万山, not 山区) and a short form nothing (黔西南 holds no 黔西); region
        terms split as usual (贵阳贵安 → 贵阳, 贵安).
        """
        parts = self._parts_cache.get(word)
        if parts is not None:
            return parts
        canonical = self.places.canonical.get(word)
        if canonical is not None and canonical != word:
            return (canonical,)
        if word in self.places.atomic:
            return ()
        tokenizer = self.jieba()
        n = len(word)
        dag = tokenizer.get_DAG(word)
        dag[0] = [end for end in dag[0] if end != n - 1] or [0]
        route: dict[int, tuple[float, int]] = {}
        tokenizer.calc(word, dag, route)
        found: list[str] = []
        start = 0
        while start < n:
            end = route[start][1] + 1
            piece = word[start:end]
            if len(piece) > 1 and piece not in self.stopwords:
                if len(piece) > 2:
                    found.extend(self._parts(piece))
                found.append(piece)
            start = end
        parts = tuple(found)
        if len(self._parts_cache) > 200_000:  # bound memory on endless vocabularies
            self._parts_cache.clear()
        self._parts_cache[word] = parts
        return parts

    def is_stopword(self, token: str) -> bool:
        """Whether ``token`` is a function word dropped from queries and the index."""
        word = normalize(token).strip()
        return word in self.stopwords or (word.isascii() and stem(word) in self.stopwords)
