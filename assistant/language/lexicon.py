"""Language resources for the keyword side of retrieval: tokens, query terms and place names.

BM25 is only as good as its tokens. Out of the box jieba splits the words this domain is about
(营商/环境, 建设/用地, 黔/中/城市群, 观/山湖), an English question over Chinese replies shares no
token with them, and place names — the most selective words in a reply — come out in pieces.
``Lexicon`` fixes the three with the files in ``assistant/resources/``:

- ``places.txt``    jieba user dictionary of Guizhou's prefectures, all 88 county-level divisions,
                    towns named in replies and region terms, each in short and full form;
- ``gov_terms.txt`` jieba user dictionary of government and policy terms;
- ``glossary.tsv``  ``english<TAB>中文1|中文2`` — English words/phrases and pinyin place names
                    (``english<TAB>-``: a phrase that is no term, e.g. the verb ``plan to``);
- ``synonyms.tsv``  ``口语词<TAB>公文用词1|公文用词2`` — everyday words and the replies' own (往南 → 南部);
- ``stopwords.txt`` Chinese and English function words (conservative: no content words).

Token scheme (the same for documents and questions, so they meet):

1. NFKC, lower case, apostrophes inside Latin words removed (``Gui'an`` → ``guian``);
2. jieba's accurate cut with HMM, on a private ``jieba.Tokenizer`` holding the two user dictionaries;
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

Example::

    >>> lex = Lexicon.default()
    >>> "增减挂钩" in lex.tokenize("推动耕地占补平衡和城乡建设用地增减挂钩")
    True
    >>> lex.places_in("惠水县和长顺")
    ['惠水', '长顺']
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # jieba is imported lazily: importing this module must stay cheap
    import jieba

__all__ = [
    "AMBIGUOUS_PLACES",
    "PLACE_ALIASES",
    "PLACE_CLUSTERS",
    "PLACE_PARTS",
    "RESOURCES_DIR",
    "TOWN_COUNTY",
    "Lexicon",
    "normalize",
    "read_userdict",
]

log = logging.getLogger(__name__)

RESOURCES_DIR = Path(__file__).with_name("resources")
#: Bump when ``tokenize`` changes how it cuts text, so that indexes re-tokenise their documents.
TOKENIZER_VERSION = "1"
NOT_A_TERM = "-"  # glossary target of a phrase that is no term ("plan to"): it hides its words

#: Town clusters (城镇组团) named in replies; a question about one member is about the cluster.
PLACE_CLUSTERS: dict[str, tuple[str, ...]] = {
    "惠水—长顺城镇组团": ("惠水", "长顺"),
    "贵定—龙里城镇组团": ("贵定", "龙里"),
}

#: Compound region names and the places they are made of (one way: 贵阳 is not 贵阳贵安).
PLACE_PARTS: dict[str, tuple[str, ...]] = {
    "贵阳贵安": ("贵阳", "贵安"),
}

#: Towns (乡镇/街道) named in replies → the county-level division they belong to.
TOWN_COUNTY: dict[str, str] = {
    "广顺": "长顺",
    "青岩": "花溪",
    "谷脚": "龙里",
    "醒狮": "龙里",
    "湾滩河": "龙里",
    "昌明": "贵定",
    "好花红": "惠水",
    "断杉": "惠水",
    "摆金": "惠水",
    "久长": "修文",
    "扎佐": "修文",
    "龙场": "修文",
    "百宜": "乌当",
    "羊昌": "乌当",
    "卫城": "清镇",
    "站街": "清镇",
    "红枫湖": "清镇",
    "湖潮": "贵安",
    "夏云": "平坝",
    "天龙": "平坝",
}

#: Names whose canonical form is not what stripping the administrative suffix gives:
#: former names (遵义县 became 播州区 in 2016, 盘县 became 盘州市 in 2017) and informal forms.
PLACE_ALIASES: dict[str, str] = {
    "遵义县": "播州",
    "盘县": "盘州",
    "双龙航空港": "双龙航空港经济区",
}

#: Words jieba tags as place names (``ns``) that name no particular place.
GENERIC_PLACES: frozenset[str] = frozenset(
    "中国 我国 全国 国家 中华人民共和国 全省 全市 全州 全县 本省 本市 省内 市内 县内 城镇 城区 城市 城乡 "
    "农村 乡村 乡镇 县城 县域 市区 郊区 山区 边疆 沿海 内地 东部 西部 中部 东北 西北 西南 东南 海外 境外 国外 "
    "国内 各地 当地 本地 外地 地方 周边 老区 库区 景区 园区 社区 片区 城郊".split())
#: "四县", "两区", "各市": a count of places, not a name.
_COUNTED_PLACE = re.compile(r"^[一二三四五六七八九十两几多各全本该此]+[省市县区州镇乡村]")

#: Short forms that are also ordinary words (沿河 "along the river", 大方 "generous", 白云 "white
#: cloud", 江口 "estuary" …). Written alone they count as a place only next to another place name,
#: past list separators (``思南、沿河、德江``); their full forms (沿河县) always count.
AMBIGUOUS_PLACES: frozenset[str] = frozenset(
    {
        "白云",
        "大方",
        "沿河",
        "江口",
        "万山",
        "金沙",
        "钟山",
        "水城",
        "南明",
        "台江",
        "赤水",
        "天柱",
        "独山",
        "平坝",
        "久长",
        "昌明",
        "天龙",
        "卫城",
        "站街",
        "醒狮",
        "夏云",
    }
)

# Ethnic names that occur in Guizhou's autonomous prefectures and counties (布依族苗族自治州 …).
_ADMIN_SUFFIX = re.compile(
    r"(?:(?:苗|布依|侗|仡佬|土家|彝|回|水)族)*自治[县州]$|特区$|新区$|街道$|[省市州县区镇乡]$"
)
_APOSTROPHE = re.compile(r"(?<=[A-Za-z])['’‘`´](?=[A-Za-z])")
_DASHES = str.maketrans({"-": "—", "–": "—", "－": "—", "―": "—", "‐": "—"})
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")
# What may stand between two Latin words of one glossary phrase ("land use", "r&d", "huishui-changshun").
_PHRASE_GAP = re.compile(r"[\s\-/&]*")
# jieba cuts text in these blocks anyway (its re_han_default); cutting block by block lets us memoise.
_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+)")
_CONTENT = re.compile(r"[^\W_]")  # a token must hold a letter, digit or CJK character
_USERDICT_LINE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")
# Separators allowed between an ambiguous place and the place that vouches for it.
_LIST_SEPARATORS = frozenset({"、", ",", "，", "和", "与", "及", " ", "—", "(", ")", "/", ";", "；"})


def normalize(text: str) -> str:
    """The one text form every comparison uses: NFKC, lower case, ``Gui'an`` → ``guian``."""
    return _fold(text).lower()


def _fold(text: str) -> str:
    """NFKC with apostrophes inside Latin words removed, case kept (the glossary needs case)."""
    return _APOSTROPHE.sub("", unicodedata.normalize("NFKC", text))


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _stem(word: str) -> str:
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


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a resource file that are not ``#`` comments, with line numbers."""
    with path.open(encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if line and not line.startswith("#"):
                yield lineno, line


def read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Entries of a jieba user dictionary (``word [freq] [tag]`` per line), parsed as jieba does."""
    entries: list[tuple[str, int | None, str | None]] = []
    with path.open(encoding="utf-8-sig") as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            match = _USERDICT_LINE.match(line)
            assert match is not None  # the pattern matches any non-empty line
            word, freq, tag = match.groups()
            entries.append((word, int(freq) if freq else None, tag.strip() if tag else None))
    return entries


class Lexicon:
    """Tokeniser, query expander and place-name finder, built from ``assistant/resources``.

    The small resources are parsed in the constructor (milliseconds); the jieba tokenizer is
    built on first use (under a second once jieba's own cache exists in ``cache_dir``, the temp
    folder by default). Instances are safe to share between threads.
    """

    _default: Lexicon | None = None
    _default_lock = threading.Lock()

    def __init__(self, resources_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        self.resources_dir = Path(resources_dir) if resources_dir else RESOURCES_DIR
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._tokenizer: jieba.Tokenizer | None = None
        self._place_names: frozenset[str] | None = None
        self._parts_cache: dict[str, tuple[str, ...]] = {}
        self._block_cache: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

        self.stopwords: frozenset[str] = frozenset(
            normalize(line) for _, line in _read_lines(self.resources_dir / "stopwords.txt")
        )
        place_words = [w for w, _, _ in read_userdict(self.resources_dir / "places.txt")]
        self._place_canonical: dict[str, str] = self._canonical_forms(place_words)
        # Names of divisions and towns (they have a full form): atomic, never split into parts.
        self._atomic_places = {c for form, c in self._place_canonical.items() if form != c}
        self.glossary: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Keys written with a capital letter, e.g. "Guiding" (贵定 — not "guiding principles"),
        # match only text written exactly so.
        self._cased_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._read_glossary(self.resources_dir / "glossary.tsv")
        self._max_phrase = max((len(k) for k in self.glossary), default=1)
        self._glossary_words = {w for key in self.glossary for w in key}
        self.synonyms: dict[str, tuple[str, ...]] = {}
        self._read_synonyms(self.resources_dir / "synonyms.tsv")
        self._town_by_county: dict[str, list[str]] = {}
        for town, county in TOWN_COUNTY.items():
            self._town_by_county.setdefault(county, []).append(town)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Identity of how documents are tokenised: the dictionaries, the stopwords, the token scheme
        (:data:`TOKENIZER_VERSION`) and jieba's version. An index whose stored tokens carry another
        fingerprint is re-tokenised by the next ingest. (The glossary and synonyms are read on the
        question's side only.)"""
        h = hashlib.sha256(f"{TOKENIZER_VERSION}\0{importlib.metadata.version('jieba')}".encode())
        for name in ("places.txt", "gov_terms.txt", "stopwords.txt"):
            h.update(b"\0" + (self.resources_dir / name).read_bytes())
        return h.hexdigest()[:16]

    def knows(self, word: str) -> bool:
        """True when an English word is part of a glossary entry (so it stands for a known topic)."""
        folded = word.lower()
        return folded in self._glossary_words or _stem(folded) in self._glossary_words

    # ------------------------------------------------------------------ construction

    @classmethod
    def default(cls) -> Lexicon:
        """The process-wide instance over the shipped resources (built once, on first call)."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    @staticmethod
    def _canonical_forms(words: Iterable[str]) -> dict[str, str]:
        """Map every place form to its canonical short form (惠水县 → 惠水, 黔南布依族苗族自治州 → 黔南).

        A suffix is stripped only when what remains is itself listed, so 清镇 stays 清镇 and
        双龙航空港经济区 stays whole.
        """
        forms = {normalize(w) for w in words}
        canonical: dict[str, str] = {}
        for form in forms:
            if form in PLACE_ALIASES:
                canonical[form] = PLACE_ALIASES[form]
                continue
            stripped = _ADMIN_SUFFIX.sub("", form)
            canonical[form] = stripped if stripped != form and stripped in forms else form
        return canonical

    def _read_glossary(self, path: Path) -> None:
        for lineno, line in _read_lines(path):
            english, sep, chinese = line.partition("\t")
            words = tuple(_LATIN_WORD.findall(_fold(english)))
            key = tuple(_stem(w.lower()) for w in words)
            targets = tuple(t for t in (normalize(x).strip() for x in chinese.split("|")) if t)
            if not sep or not key or not targets:
                raise ValueError(f"{path}:{lineno}: expected 'english<TAB>中文1|中文2', got {line!r}")
            if chinese.strip() == NOT_A_TERM:  # "plan to": a verb, not the noun plan (规划)
                self.glossary[key] = ()
                continue
            # A phrase listed twice (e.g. 'tax' and 'taxes' stem alike) keeps the union of targets.
            self.glossary[key] = tuple(dict.fromkeys(self.glossary.get(key, ()) + targets))
            if english != english.lower():
                self._cased_keys[key] = words

    def _read_synonyms(self, path: Path) -> None:
        if not path.exists():
            return
        for lineno, line in _read_lines(path):
            word, sep, official = line.partition("\t")
            targets = tuple(t for t in (normalize(x).strip() for x in official.split("|")) if t)
            if not sep or not word.strip() or not targets:
                raise ValueError(f"{path}:{lineno}: expected '口语词<TAB>公文用词1|公文用词2', got {line!r}")
            self.synonyms[normalize(word).strip()] = targets

    def _synonym_hits(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(everyday word, the replies' words) for each synonyms.tsv entry found in ``text``."""
        norm = normalize(text)
        return [(word, targets) for word, targets in self.synonyms.items() if word in norm]

    def _whole_terms(self, word: str) -> list[str]:
        """``word`` as index terms: itself when the tokenizer keeps it whole (最多跑一次), else its
        parts of two characters or more (来回跑 → 来回) — never a lone 跑 that any text has."""
        tokens = self.tokenize(word)
        return [word] if word in tokens else [t for t in tokens if len(t) >= 2]

    def _jieba(self) -> jieba.Tokenizer:
        return self._built("_tokenizer", self._build_tokenizer)

    def _built(self, attribute: str, build):
        """``self.<attribute>``, built on first use by one thread (not re-entrant: ``build`` must
        not build another attribute that is still missing)."""
        value = getattr(self, attribute)
        if value is None:
            with self._lock:
                if getattr(self, attribute) is None:
                    setattr(self, attribute, build())
                value = getattr(self, attribute)
        return value

    def _build_tokenizer(self) -> jieba.Tokenizer:
        """A private jieba tokenizer holding both user dictionaries.

        A private instance keeps our words out of the global ``jieba`` that other code may use.
        Loading is dominated by jieba's 350k-word prefix dictionary, which jieba itself caches as
        a marshal file in ``cache_dir`` (default: the temp folder): about 0.8 s warm, 1–1.2 s on
        the very first run. Our ~940 words take about 10 ms to add, so caching the merged
        dictionary as well would save little (measured: ~0.15 s) and add a second 9 MB file.
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
        for name in ("places.txt", "gov_terms.txt"):
            for word, freq, tag in read_userdict(self.resources_dir / name):
                # A user dictionary may make a word stronger, never weaker than jieba's own count.
                base = tokenizer.FREQ.get(word) or 0
                tokenizer.add_word(word, max(freq or 0, base) or None, tag)
        return tokenizer

    # ------------------------------------------------------------------ tokens

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
        tokenizer = self._jieba()
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
                word = _stem(word)
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
        canonical = self._place_canonical.get(word)
        if canonical is not None and canonical != word:
            return (canonical,)
        if word in self._atomic_places:
            return ()
        tokenizer = self._jieba()
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

    def query_terms(self, question: str) -> list[str]:
        """Search terms for a question: its tokens plus the Chinese of its English words.

        English words and phrases (``land`` → 土地, 用地; ``investment attraction`` → 招商引资) and
        pinyin place names (``Huishui`` → 惠水) are looked up in the glossary, longest phrase first;
        each Chinese target is tokenised like a document, so it meets the index. The English words
        themselves stay too, for English documents. Order is first appearance, without repeats.
        """
        terms = self.tokenize(question)
        for _, targets in self._glossary_hits(question):
            for target in targets:
                terms.extend(self.tokenize(target))
        for _, targets in self._synonym_hits(question):
            for target in targets:
                terms.extend(self._whole_terms(target))
        return list(dict.fromkeys(terms))

    def query_concepts(self, question: str) -> list[tuple[str, ...]]:
        """The question's concepts, each a group of interchangeable index terms.

        A Chinese word is its own concept; an English glossary phrase is one concept whose members
        are its Chinese targets' tokens (``land`` → (土地, 用地)), so a section that says 土地 covers
        it. Other English words are concepts of their own (they match English documents).
        """
        concepts: list[tuple[str, ...]] = []
        covered: set[str] = set()
        for _, targets in self._glossary_hits(question):
            group = tuple(dict.fromkeys(t for target in targets for t in self.tokenize(target)))
            if group:
                concepts.append(group)
                covered.update(group)
        for word, targets in self._synonym_hits(question):  # 往南 → (往南, 南部, 南向)
            covered.update(self.tokenize(word))
            concepts.append(tuple(dict.fromkeys(t for w in (word, *targets) for t in self._whole_terms(w))))
        glossed = {_stem(m.group().lower()) for m in _LATIN_WORD.finditer(_fold(question))
                   if self._glossary_word(m.group())}
        for token in dict.fromkeys(self.tokenize(question)):
            if token in covered or (token.isascii() and token in glossed):
                continue
            concepts.append((token,))
        return concepts

    def _glossary_word(self, word: str) -> bool:
        """Whether an English word takes part in some glossary phrase."""
        return _stem(word.lower()) in self._glossary_words

    def glossary_phrases(self, text: str, non_terms: bool = False) -> list[str]:
        """The English glossary phrases of two words or more in ``text``, as written ("red tape");
        with ``non_terms``, those the glossary lists as no term at all ("plan to") instead."""
        return [phrase for _, targets, phrase in self._glossary_spans(text)
                if " " in phrase.strip() and bool(targets) != non_terms]

    def _glossary_hits(self, text: str) -> list[tuple[int, tuple[str, ...]]]:
        """(offset, Chinese targets) of each glossary phrase in ``text``, greedy longest first."""
        return [(at, targets) for at, targets, _ in self._glossary_spans(text)]

    def _glossary_spans(self, text: str) -> list[tuple[int, tuple[str, ...], str]]:
        """(offset, Chinese targets, the phrase as written) of each glossary phrase in ``text``."""
        text = _fold(text)
        hits: list[tuple[int, tuple[str, ...], str]] = []
        words = list(_LATIN_WORD.finditer(text))
        start = 0
        while start < len(words):
            # The run of words that may form one phrase: joined only by spaces, hyphens, slashes, &.
            end = start + 1
            while (
                end < len(words)
                and end - start < self._max_phrase
                and _PHRASE_GAP.fullmatch(text, words[end - 1].end(), words[end].start())
            ):
                end += 1
            for stop in range(end, start, -1):
                written = tuple(m.group() for m in words[start:stop])
                key = tuple(_stem(w.lower()) for w in written)
                targets = self.glossary.get(key)
                if targets is not None and self._cased_keys.get(key, written) == written:
                    hits.append((words[start].start(), targets, text[words[start].start():words[stop - 1].end()]))
                    start = stop
                    break
            else:
                start += 1
        return hits

    def is_stopword(self, token: str) -> bool:
        """Whether ``token`` is a function word dropped from queries and the index."""
        word = normalize(token).strip()
        return word in self.stopwords or (word.isascii() and _stem(word) in self.stopwords)

    # ------------------------------------------------------------------ places

    def canonical_place(self, name: str) -> str | None:
        """The canonical short form of a place written in Chinese or pinyin, else ``None``.

        ``惠水县`` → ``惠水``; ``Huishui`` → ``惠水``; ``惠水—长顺城镇组团`` → itself.
        """
        word = normalize(name).strip()
        if word in self._place_canonical:
            return self._place_canonical[word]
        cluster = word.translate(_DASHES)
        if cluster in PLACE_CLUSTERS:
            return cluster
        for _, targets in self._glossary_hits(name):
            for target in targets:
                if target in self._place_canonical:
                    return self._place_canonical[target]
        return None

    def other_places(self, text: str) -> list[str]:
        """Names of places outside the lexicon's own (北京市, 上海, 深圳) that ``text`` mentions: words
        jieba's dictionary tags ``ns``, without generic place nouns (城镇, 山区) and counts (四县).

        A question about another city's figures is not answered by a Guizhou reply that lacks
        them; the gate uses these as anchors the way it uses :meth:`places_in`.
        """
        tokenizer = self._jieba()  # first: reading the names needs it
        names = self._built("_place_names", self._read_place_names)
        found = [w for w in tokenizer.cut(normalize(text))
                 if w in names and w not in self._place_canonical and w not in GENERIC_PLACES
                 and not _COUNTED_PLACE.match(w)]
        return list(dict.fromkeys(found))

    def _read_place_names(self) -> frozenset[str]:
        """The ``ns`` words of jieba's main dictionary (~18k; a set, not jieba's 350k-entry tag table)."""
        names = set()
        with self._jieba().get_dict_file() as handle:
            for line in handle:
                parts = line.decode("utf-8").split()
                if len(parts) >= 3 and parts[2] == "ns" and len(parts[0]) >= 2:
                    names.add(parts[0])
        return frozenset(names)

    def places_in(self, text: str) -> list[str]:
        """Places mentioned in ``text`` (canonical short forms, first mention first, no repeats).

        Chinese names are found as whole jieba words, so 山水城市 does not mention 水城; pinyin
        names through the glossary (``Huishui County`` → 惠水). Ambiguous short forms follow the
        rule in :data:`AMBIGUOUS_PLACES`.
        """
        norm = normalize(text)
        words = list(self._jieba().cut(norm))
        found: list[tuple[int, str]] = []
        offset = 0
        pending: list[tuple[int, int, str]] = []  # (word index, offset, canonical) of ambiguous forms
        place_indices: set[int] = set()
        for index, word in enumerate(words):
            canonical = self._place_canonical.get(word)
            if canonical is not None:
                place_indices.add(index)
                if word == canonical and canonical in AMBIGUOUS_PLACES:
                    pending.append((index, offset, canonical))
                else:
                    found.append((offset, canonical))
            offset += len(word)
        for index, at, canonical in pending:
            if self._next_to_place(words, index, place_indices):
                found.append((at, canonical))
        for at, targets in self._glossary_hits(text):
            for target in targets:
                canonical = self._place_canonical.get(target)
                if canonical is not None:
                    found.append((at, canonical))
        found.sort(key=lambda item: item[0])
        return list(dict.fromkeys(canonical for _, canonical in found))

    @staticmethod
    def _next_to_place(words: list[str], index: int, place_indices: set[int]) -> bool:
        """Whether the nearest word on either side, past list separators, is a place name too."""
        for step in (-1, 1):
            i = index + step
            while 0 <= i < len(words) and words[i] in _LIST_SEPARATORS:
                i += step
            if i in place_indices:
                return True
        return False

    def cluster_of(self, place: str) -> list[str]:
        """The place and the places it goes with, for boosting (canonical forms, place first).

        A town brings its county; a county brings the other members of its town cluster
        (惠水 → 长顺); a compound brings its parts (贵阳贵安 → 贵阳, 贵安); and every county in the
        result brings the towns of it named in replies (长顺 → 广顺). Unknown names come back alone.
        """
        canonical = self.canonical_place(place)
        if canonical is None:
            return [place]
        out = [canonical]
        out.extend(PLACE_CLUSTERS.get(canonical, ()))
        out.extend(PLACE_PARTS.get(canonical, ()))
        if canonical in TOWN_COUNTY:
            out.append(TOWN_COUNTY[canonical])
        for members in PLACE_CLUSTERS.values():
            if any(m in out for m in members):
                out.extend(members)
        for county in list(out):
            out.extend(self._town_by_county.get(county, ()))
        return list(dict.fromkeys(out))
