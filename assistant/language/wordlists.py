"""Reading the word lists under ``resources/``: comment-aware lines, jieba user dictionaries, tables.

Formats (``#`` starts a comment line, blank lines are skipped, files are UTF-8 with or without BOM):

- word lists (``stopwords.txt``, ``place_*.txt``): one entry per line;
- jieba user dictionaries (``places.txt``, ``gov_terms.txt``): ``word [freq] [tag]`` per line;
- tables (``*.tsv``): ``key<TAB>value1|value2|…`` per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["RESOURCES_DIR", "read_lines", "read_table", "read_userdict", "read_words"]

RESOURCES_DIR = Path(__file__).with_name("resources")
_USERDICT_LINE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a resource file that are not ``#`` comments, stripped, with line numbers."""
    with path.open(encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if line and not line.startswith("#"):
                yield lineno, line


def read_words(path: Path) -> list[str]:
    """The entries of a one-word-per-line list, in file order."""
    return [line for _, line in read_lines(path)]


def read_table(path: Path, expected: str, fold: Callable[[str], str] = str.strip
               ) -> Iterator[tuple[int, str, str, tuple[str, ...]]]:
    """``(line number, line, key, values)`` of each ``key<TAB>value1|value2`` line; the values are
    passed through ``fold`` and empty ones dropped. A line without a tab, a key or a value is an
    error naming the file, the line and the ``expected`` format."""
    for lineno, line in read_lines(path):
        key, sep, values = line.partition("\t")
        targets = tuple(t for t in (fold(v) for v in values.split("|")) if t)
        if not sep or not key.strip() or not targets:
            raise ValueError(f"{path}:{lineno}: expected {expected!r}, got {line!r}")
        yield lineno, line, key, targets


def read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Entries of a jieba user dictionary (``word [freq] [tag]`` per line), parsed as jieba does."""
    entries: list[tuple[str, int | None, str | None]] = []
    for _, line in read_lines(path):  # comments too, as in every other list
        match = _USERDICT_LINE.match(line)
        assert match is not None  # the pattern matches any non-empty line
        word, freq, tag = match.groups()
        entries.append((word, int(freq) if freq else None, tag.strip() if tag else None))
    return entries
