"""The keyword side's language, in one object: tokens, query expansion and place names.

``Lexicon`` builds the three parts from one resources folder (``assistant/language/resources``
by default) and answers for them, so that the index, the retriever and the answer share one set of
word lists:

- :mod:`~assistant.language.tokens` — the token scheme documents and questions share (jieba with
  the place names and ``gov_terms.txt``, ``stopwords.txt``);
- :mod:`~assistant.language.expansion` — English and everyday words mapped onto the replies'
  Chinese (``glossary.tsv``, CC-CEDICT, ``colloquial.tsv``, 同义词词林 — see
  :mod:`~assistant.language.thesaurus`);
- :mod:`~assistant.language.places` — place names, their canonical forms and the places they go
  with (``divisions.tsv``, generated from JioNLP's list of China's divisions, and ``place_*``).

Example::

    >>> lex = Lexicon.default()
    >>> "增减挂钩" in lex.tokenize("推动耕地占补平衡和城乡建设用地增减挂钩")
    True
    >>> lex.places_in("惠水县和长顺")
    ['惠水', '长顺']
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from assistant.language.expansion import Expansion
from assistant.language.places import PlaceNames, Places
from assistant.language.tokens import Tokenizer, normalize
from assistant.language.wordlists import RESOURCES_DIR, read_userdict

__all__ = ["RESOURCES_DIR", "Lexicon", "normalize", "read_userdict"]


class Lexicon:
    """Tokeniser, query expander and place-name finder, built from ``assistant/language/resources``.

    The small resources are parsed in the constructor (milliseconds); the jieba tokenizer is
    built on first use (under a second once jieba's own cache exists in ``cache_dir``, the temp
    folder by default). Instances are safe to share between threads.
    """

    _default: Lexicon | None = None
    _default_lock = threading.Lock()

    def __init__(self, resources_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        self.resources_dir = Path(resources_dir) if resources_dir else RESOURCES_DIR
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.place_names = PlaceNames(self.resources_dir)
        self.tokens = Tokenizer(self.resources_dir, self.place_names, self.cache_dir)
        self.expansion = Expansion(self.resources_dir, self.tokens)
        self.places = Places(self.place_names, self.tokens, self.expansion)

    @classmethod
    def default(cls) -> Lexicon:
        """The process-wide instance over the shipped resources (built once, on first call)."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    @functools.cached_property
    def fingerprint(self) -> str:
        """Identity of how documents are tokenised: the files that decide the cut
        (:data:`~assistant.language.tokens.TOKEN_FILES`), the token scheme and jieba's version. An
        index whose stored tokens carry another fingerprint is re-tokenised by the next ingest.
        (The glossary, the dictionaries and the colloquial words are read on the question's side only.)"""
        return self.tokens.fingerprint()

    @property
    def stopwords(self) -> frozenset[str]:
        return self.tokens.stopwords

    @property
    def glossary(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        return self.expansion.glossary

    # ---- tokens (see assistant.language.tokens) ---------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Index tokens of ``text``, in text order, duplicates kept (BM25 counts them)."""
        return self.tokens.tokenize(text)

    def is_stopword(self, token: str) -> bool:
        """Whether ``token`` is a function word dropped from queries and the index."""
        return self.tokens.is_stopword(token)

    # ---- expansion (see assistant.language.expansion) -------------------------------------------
    def query_terms(self, question: str) -> list[str]:
        """Search terms for a question: its tokens plus the Chinese of its English and everyday words."""
        return self.expansion.query_terms(question)

    def query_concepts(self, question: str) -> list[tuple[str, ...]]:
        """The question's concepts, each a group of interchangeable index terms."""
        return self.expansion.query_concepts(question)

    def glossary_phrases(self, text: str, non_terms: bool = False) -> list[str]:
        """The English glossary phrases of two words or more in ``text``, as written."""
        return self.expansion.glossary_phrases(text, non_terms)

    def knows(self, word: str) -> bool:
        """True when an English word is part of a glossary entry (so it stands for a known topic)."""
        return self.expansion.knows(word)

    # ---- places (see assistant.language.places) -------------------------------------------------
    def places_in(self, text: str) -> list[str]:
        """Places mentioned in ``text`` (canonical short forms, first mention first, no repeats)."""
        return self.places.places_in(text)

    def other_places(self, text: str) -> list[str]:
        """Names of places outside the lexicon's own (北京市, 上海) that ``text`` mentions."""
        return self.places.other_places(text)

    def canonical_place(self, name: str) -> str | None:
        """The canonical short form of a place written in Chinese or pinyin, else ``None``."""
        return self.places.canonical_place(name)

    def cluster_of(self, place: str) -> list[str]:
        """The place and the places it goes with, for boosting (canonical forms, place first)."""
        return self.places.cluster_of(place)

