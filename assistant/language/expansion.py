"""Query expansion: a question's search terms and concepts, with English and everyday words mapped
onto the replies' Chinese.

An English question over Chinese replies shares no token with them, and citizens say 往南 where a
reply says 南部. Two tables fix that, both read on the question's side only:

- ``glossary.tsv``  ``english<TAB>中文1|中文2`` — English words/phrases and pinyin place names
                    (``english<TAB>-``: a phrase that is no term, e.g. the verb ``plan to``);
- ``synonyms.tsv``  ``口语词<TAB>公文用词1|公文用词2`` — everyday words and the replies' own (往南 → 南部).
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.language.tokens import Tokenizer, fold, normalize, stem
from assistant.language.wordlists import read_table

__all__ = ["NOT_A_TERM", "Expansion"]

NOT_A_TERM = "-"  # glossary target of a phrase that is no term ("plan to"): it hides its words
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")
# What may stand between two Latin words of one glossary phrase ("land use", "r&d", "huishui-changshun").
_PHRASE_GAP = re.compile(r"[\s\-/&]*")


class Expansion:
    """The glossary and synonyms, and what they make of a question."""

    def __init__(self, resources_dir: Path, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.glossary: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Keys written with a capital letter, e.g. "Guiding" (贵定 — not "guiding principles"),
        # match only text written exactly so.
        self._cased_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._read_glossary(resources_dir / "glossary.tsv")
        self._max_phrase = max((len(k) for k in self.glossary), default=1)
        self._glossary_words = {w for key in self.glossary for w in key}
        self.synonyms: dict[str, tuple[str, ...]] = {}
        if (resources_dir / "synonyms.tsv").exists():
            for _, _, word, targets in read_table(resources_dir / "synonyms.tsv",
                                                  "口语词<TAB>公文用词1|公文用词2", _folded):
                self.synonyms[normalize(word).strip()] = targets

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

    def knows(self, word: str) -> bool:
        """True when an English word is part of a glossary entry (so it stands for a known topic)."""
        folded = word.lower()
        return folded in self._glossary_words or stem(folded) in self._glossary_words

    def query_terms(self, question: str) -> list[str]:
        """Search terms for a question: its tokens plus the Chinese of its English words.

        English words and phrases (``land`` → 土地, 用地; ``investment attraction`` → 招商引资) and
        pinyin place names (``Huishui`` → 惠水) are looked up in the glossary, longest phrase first;
        each Chinese target is tokenised like a document, so it meets the index. The English words
        themselves stay too, for English documents. Order is first appearance, without repeats.
        """
        tokenize = self.tokenizer.tokenize
        terms = tokenize(question)
        for _, targets in self.glossary_hits(question):
            for target in targets:
                terms.extend(tokenize(target))
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
        glossed = {stem(m.group().lower()) for m in _LATIN_WORD.finditer(fold(question))
                   if stem(m.group().lower()) in self._glossary_words}
        for token in dict.fromkeys(tokenize(question)):
            if token in covered or (token.isascii() and token in glossed):
                continue
            concepts.append((token,))
        return concepts

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
                if targets is not None and self._cased_keys.get(key, written) == written:
                    hits.append((words[start].start(), targets, text[words[start].start():words[stop - 1].end()]))
                    start = stop
                    break
            else:
                start += 1
        return hits

    def _synonym_hits(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(everyday word, the replies' words) for each synonyms.tsv entry found in ``text``."""
        norm = normalize(text)
        return [(word, targets) for word, targets in self.synonyms.items() if word in norm]

    def _whole_terms(self, word: str) -> list[str]:
        """``word`` as index terms: itself when the tokenizer keeps it whole (最多跑一次), else its
        parts of two characters or more (来回跑 → 来回) — never a lone 跑 that any text has."""
        tokens = self.tokenizer.tokenize(word)
        return [word] if word in tokens else [t for t in tokens if len(t) >= 2]


def _folded(value: str) -> str:
    return normalize(value).strip()
