"""Query expansion: a question's search terms and concepts, with English and everyday words mapped
onto the replies' Chinese.

An English question over Chinese replies shares no token with them, and citizens say 娃儿 or 看病
where a reply says 儿童 or 就医. Four sources fix that, all read on the question's side only:

- ``glossary.tsv``  ``english<TAB>中文1|中文2`` — multi-word English policy terms and pinyin place
                    names, which a dictionary does not give (``english<TAB>-``: a phrase that is no
                    term, e.g. the verb ``plan to``);
- CC-CEDICT read backwards (:class:`~assistant.language.thesaurus.Dictionary`) — any other English
                    word → its common Chinese headwords;
- ``colloquial.tsv`` ``口语词<TAB>书面词1|书面词2`` — colloquial and dialect forms (娃儿 → 孩子, 儿童);
- 同义词词林 (:class:`~assistant.language.thesaurus.Thesaurus`) — a Chinese word's synonyms.

Every expansion joins the concept of the word it came from, so it never adds a concept of its own:
a section that says 就医 covers 看病, but a question does not grow longer by its synonyms.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.language.thesaurus import Dictionary, Thesaurus
from assistant.language.tokens import Tokenizer, fold, normalize, stem
from assistant.language.wordlists import read_table

__all__ = ["NOT_A_TERM", "Expansion"]

#: 词林 groups larger than this gather loose senses (娃娃 with 42 words for young people): not expanded.
MAX_SYNONYM_GROUP = 6
#: Words in more than this many 词林 groups are too polysemous to expand (问题: 题目, 事故 …).
MAX_SENSES = 2
#: Of an English word's dictionary headwords, those at least this share as common (jieba's counts)
#: as the most common one: ``land`` → 土地, not 着陆.
MIN_SENSE_SHARE = 0.2
MAX_TRANSLATIONS = 4

NOT_A_TERM = "-"  # glossary target of a phrase that is no term ("plan to"): it hides its words
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")
# What may stand between two Latin words of one glossary phrase ("land use", "r&d", "huishui-changshun").
_PHRASE_GAP = re.compile(r"[\s\-/&]*")
# Ordinals and numbers (第三, 三十): 词林 groups them with other numbers, which are no synonyms.
_NUMBERED = re.compile(r"^(?:第|[\d一二三四五六七八九十百千万两]+$)")
# English words that follow a pinyin place name (Huishui County, Guiyang City).
_DIVISION_WORDS = (("county",), ("district",), ("city",), ("province",), ("prefecture",), ("autonomous", "prefecture"),
                   ("autonomous", "county"), ("new", "area"))


class Expansion:
    """The glossary and synonyms, and what they make of a question."""

    def __init__(self, resources_dir: Path, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.glossary: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Keys written with a capital letter, e.g. "Guiding" (贵定 — not "guiding principles"),
        # match only text written exactly so.
        self._cased_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._capital_keys: set[tuple[str, ...]] = set()  # keys that need a capital first letter
        self._read_glossary(resources_dir / "glossary.tsv")
        self._add_pinyin_places()
        self._max_phrase = max((len(k) for k in self.glossary), default=1)
        self._glossary_words = {w for key in self.glossary for w in key}
        self.synonyms: dict[str, tuple[str, ...]] = {}
        for _, _, word, targets in read_table(resources_dir / "colloquial.tsv", "口语词<TAB>书面词1|书面词2", _folded):
            self.synonyms[normalize(word).strip()] = targets
        self.thesaurus = Thesaurus(tokenizer.cache_dir)
        self.dictionary = Dictionary(tokenizer.cache_dir)

    def _read_glossary(self, path: Path) -> None:
        expected = "english<TAB>中文1|中文2"
        for lineno, line, english, targets in read_table(path, expected, _folded):
            words = tuple(_LATIN_WORD.findall(fold(english)))
            key = tuple(stem(w.lower()) for w in words)
            if not key:
                raise ValueError(f"{path}:{lineno}: expected {expected!r}, got {line!r}")
            if targets == (NOT_A_TERM,):  # "plan to": a verb, not the noun plan (规划)
                self.glossary[key] = ()
                continue
            # A phrase listed twice (e.g. 'tax' and 'taxes' stem alike) keeps the union of targets.
            self.glossary[key] = tuple(dict.fromkeys(self.glossary.get(key, ()) + targets))
            if english != english.lower():
                self._cased_keys[key] = words

    def _add_pinyin_places(self) -> None:
        """Every division's pinyin (``Nanming``, ``Nanming District``) → its short form. A reading
        that is also an English word (``Mile``, marked in ``divisions.tsv``) counts only written
        with a capital. A reading several places share names alone the one higher in rank
        (Guiyang: the city 贵阳, not the county 桂阳), else none (Jinping: 锦屏, 金平 — and a person);
        with its division word it names them all (``Jinping County``), or with "County" its
        counties (``Guiyang County`` → 桂阳)."""
        names = self.tokenizer.places
        for reading, places in names.pinyin.items():
            words = tuple(reading.split())
            shorts = tuple(dict.fromkeys(short for _, short in sorted(places)))
            top = min(level for level, _ in places)
            alone = tuple(dict.fromkeys(short for level, short in places if level == top))
            counties = tuple(dict.fromkeys(short for level, short in places if level == 3)) or shorts
            named = alone if len(alone) == 1 else shorts  # "Guiyang districts" are 贵阳's
            # "District" may be a county-level district (叙州区) or a city's districts: every
            # candidate, resolved by the places beside it (Places.places_in).
            keyed = [(words + suffix, counties if suffix[-1] == "county" else shorts if suffix[-1] == "district"
                      else named) for suffix in _DIVISION_WORDS]
            if len(alone) == 1:
                keyed.append((words, alone))
            for key, targets in keyed:
                if key not in self.glossary:
                    self.glossary[key] = targets
                    if reading in names.english_readings:
                        self._capital_keys.add(key)

    def knows(self, word: str) -> bool:
        """True when an English word is part of a glossary entry (so it stands for a known topic:
        "budget" does, "moving" does not — the dictionary translates both, so it cannot tell)."""
        folded = word.lower()
        return folded in self._glossary_words or stem(folded) in self._glossary_words

    def query_terms(self, question: str) -> list[str]:
        """Search terms for a question: its tokens plus every alternative of its concepts (the
        Chinese of its English words, the written forms of its colloquial words, their synonyms).
        The English words themselves stay too, for English documents. First appearance order."""
        terms = self.tokenizer.tokenize(question)
        terms.extend(t for group in self.query_concepts(question) for t in group)
        return list(dict.fromkeys(terms))

    def query_concepts(self, question: str) -> list[tuple[str, ...]]:
        """The question's concepts, each a group of interchangeable index terms.

        An English glossary phrase is one concept whose members are its Chinese targets' tokens
        (``investment attraction`` → 招商引资); another English word, its common dictionary
        headwords after the word itself (``land`` → land, 土地: the English word matches English
        documents, and the concept weighs as an unknown word where the index has no English); a
        colloquial word, itself and its written forms (看病 → 就医, 医疗); any other Chinese word,
        itself and its 词林 synonyms. The question's own word comes first in its group.
        """
        tokenize = self.tokenizer.tokenize
        concepts: list[tuple[str, ...]] = []
        covered: set[str] = set()
        for _, targets in self.glossary_hits(question):
            group = tuple(dict.fromkeys(t for target in targets for t in tokenize(target)))
            if group:
                concepts.append(group)
                covered.update(group)
        for word, targets in self._synonym_hits(question):  # 往南 → (往南, 南部, 南向)
            covered.update(tokenize(word))
            concepts.append(tuple(dict.fromkeys(t for w in (word, *targets) for t in self._whole_terms(w))))
        # English words inside a glossary phrase found here ("red tape"): the phrase stands for them.
        glossed = {stem(w.lower()) for _, _, phrase in self._glossary_spans(question)
                   for w in _LATIN_WORD.findall(phrase)}
        for token in dict.fromkeys(tokenize(question)):
            if token in covered or (token.isascii() and token in glossed):
                continue
            concepts.append((token, *self._translations(token)) if token.isascii()
                            else (token, *self._synonyms(token)))
        return concepts

    def _translations(self, word: str) -> list[str]:
        """The common Chinese headwords of an English word (see :data:`MIN_SENSE_SHARE`) that the
        tokenizer keeps whole."""
        if len(word) < 3 or not word.isalpha() or self.tokenizer.is_stopword(word):
            return []
        found = self.dictionary.chinese(word) or self.dictionary.chinese(stem(word))
        freq = self.tokenizer.jieba().FREQ
        ranked = sorted(((freq.get(w, 0), w) for w in found if self._is_term(w)), reverse=True)
        if not ranked or ranked[0][0] == 0:
            return []
        return [w for n, w in ranked[:MAX_TRANSLATIONS] if n >= MIN_SENSE_SHARE * ranked[0][0]]

    def _synonyms(self, word: str) -> list[str]:
        """A Chinese word's 词林 synonyms that the tokenizer keeps whole (so they can meet the
        index), for words that are neither places nor too polysemous."""
        if len(word) < 2 or word in self.tokenizer.places.canonical or _NUMBERED.match(word):
            return []
        if len(self.thesaurus.groups().get(word, ())) > MAX_SENSES:
            return []
        return [w for w in self.thesaurus.synonyms(word, MAX_SYNONYM_GROUP) if self._is_term(w)]

    def _is_term(self, word: str) -> bool:
        """Whether ``word`` is one index term of two characters or more, and no place."""
        return (len(word) >= 2 and word not in self.tokenizer.places.canonical
                and self.tokenizer.tokenize(word) == [word])

    def glossary_phrases(self, text: str, non_terms: bool = False) -> list[str]:
        """The English glossary phrases of two words or more in ``text``, as written ("red tape");
        with ``non_terms``, those the glossary lists as no term at all ("plan to") instead."""
        return [phrase for _, targets, phrase in self._glossary_spans(text)
                if " " in phrase.strip() and bool(targets) != non_terms]

    def glossary_hits(self, text: str) -> list[tuple[int, tuple[str, ...]]]:
        """(offset, Chinese targets) of each glossary phrase in ``text``, greedy longest first."""
        return [(at, targets) for at, targets, _ in self._glossary_spans(text)]

    def _glossary_spans(self, text: str) -> list[tuple[int, tuple[str, ...], str]]:
        """(offset, Chinese targets, the phrase as written) of each glossary phrase in ``text``."""
        text = fold(text)
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
                key = tuple(stem(w.lower()) for w in written)
                targets = self.glossary.get(key)
                if (targets is not None and self._cased_keys.get(key, written) == written
                        and (key not in self._capital_keys or written[0][:1].isupper())):
                    hits.append((words[start].start(), targets, text[words[start].start():words[stop - 1].end()]))
                    start = stop
                    break
            else:
                start += 1
        return hits

    def _synonym_hits(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(colloquial word, the written words) for each ``colloquial.tsv`` entry found in ``text``,
        longest first and not inside a longer one found (老人家, not 老人 as well)."""
        norm = normalize(text)
        taken = [False] * len(norm)
        hits = []
        for word in sorted((w for w in self.synonyms if w in norm), key=len, reverse=True):
            at = norm.find(word)
            while at >= 0 and any(taken[at:at + len(word)]):
                at = norm.find(word, at + 1)
            if at >= 0:
                taken[at:at + len(word)] = [True] * len(word)
                hits.append((at, word))
        return [(word, self.synonyms[word]) for _, word in sorted(hits)]

    def _whole_terms(self, word: str) -> list[str]:
        """``word`` as index terms: itself when the tokenizer keeps it whole (最多跑一次), else its
        parts of two characters or more (来回跑 → 来回) — never a lone 跑 that any text has."""
        tokens = self.tokenizer.tokenize(word)
        return [word] if word in tokens else [t for t in tokens if len(t) >= 2]


def _folded(value: str) -> str:
    return normalize(value).strip()
