"""Place names: which places a text mentions, their canonical short forms, and the places they go with.

The names come from ``places.txt`` (Guizhou's prefectures, all 88 county-level divisions, towns
named in replies and region terms, each in short and full form) and the tables beside it:
``place_aliases.tsv`` (former and informal names), ``place_clusters.tsv`` (town clusters),
``place_parts.tsv`` (compound regions), ``place_towns.tsv`` (town → county),
``place_ambiguous.txt`` (short forms that are also ordinary words) and ``place_generic.txt``
(words jieba tags as places that name no particular place).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.language.tokens import normalize
from assistant.language.wordlists import read_table, read_userdict, read_words

if TYPE_CHECKING:
    from assistant.language.expansion import Expansion
    from assistant.language.tokens import Tokenizer

__all__ = ["PlaceNames", "Places"]

# Ethnic names that occur in Guizhou's autonomous prefectures and counties (布依族苗族自治州 …).
_ADMIN_SUFFIX = re.compile(
    r"(?:(?:苗|布依|侗|仡佬|土家|彝|回|水)族)*自治[县州]$|特区$|新区$|街道$|[省市州县区镇乡]$"
)
_DASHES = str.maketrans({"-": "—", "–": "—", "－": "—", "―": "—", "‐": "—"})
#: "四县", "两区", "各市": a count of places, not a name.
_COUNTED_PLACE = re.compile(r"^[一二三四五六七八九十两几多各全本该此]+[省市县区州镇乡村]")
# Separators allowed between an ambiguous place and the place that vouches for it.
_LIST_SEPARATORS = frozenset({"、", ",", "，", "和", "与", "及", " ", "—", "(", ")", "/", ";", "；"})


class PlaceNames:
    """The place tables of a resources folder, and the canonical form of every listed name."""

    def __init__(self, resources_dir: Path) -> None:
        self.aliases = _one_to_one(resources_dir / "place_aliases.tsv", "name<TAB>canonical form")
        self.clusters = {key.strip(): members for _, _, key, members in
                         read_table(resources_dir / "place_clusters.tsv", "cluster<TAB>member1|member2")}
        self.parts = {key.strip(): parts for _, _, key, parts in
                      read_table(resources_dir / "place_parts.tsv", "compound<TAB>part1|part2")}
        self.towns = _one_to_one(resources_dir / "place_towns.tsv", "town<TAB>county")
        self.ambiguous = frozenset(read_words(resources_dir / "place_ambiguous.txt"))
        self.generic = frozenset(read_words(resources_dir / "place_generic.txt"))
        self.canonical = self._canonical_forms(w for w, _, _ in read_userdict(resources_dir / "places.txt"))
        # Names of divisions and towns (they have a full form): atomic, never split into parts.
        self.atomic = {c for form, c in self.canonical.items() if form != c}
        self._towns_of: dict[str, list[str]] = {}
        for town, county in self.towns.items():
            self._towns_of.setdefault(county, []).append(town)

    def _canonical_forms(self, words: Iterable[str]) -> dict[str, str]:
        """Map every place form to its canonical short form (惠水县 → 惠水, 黔南布依族苗族自治州 → 黔南).

        A suffix is stripped only when what remains is itself listed, so 清镇 stays 清镇 and
        双龙航空港经济区 stays whole.
        """
        forms = {normalize(w) for w in words}
        canonical: dict[str, str] = {}
        for form in forms:
            if form in self.aliases:
                canonical[form] = self.aliases[form]
                continue
            stripped = _ADMIN_SUFFIX.sub("", form)
            canonical[form] = stripped if stripped != form and stripped in forms else form
        return canonical

    def related(self, canonical: str) -> list[str]:
        """The place and the places it goes with (see :meth:`Places.cluster_of`)."""
        out = [canonical]
        out.extend(self.clusters.get(canonical, ()))
        out.extend(self.parts.get(canonical, ()))
        if canonical in self.towns:
            out.append(self.towns[canonical])
        for members in self.clusters.values():
            if any(m in out for m in members):
                out.extend(members)
        for county in list(out):
            out.extend(self._towns_of.get(county, ()))
        return list(dict.fromkeys(out))

    def found_in(self, words: list[str]) -> list[tuple[int, str]]:
        """(offset, canonical form) of the listed places among a text's jieba words. An ambiguous
        short form counts only when the nearest word on either side, past list separators, is a
        place name too (思南、沿河、德江)."""
        found: list[tuple[int, str]] = []
        offset = 0
        pending: list[tuple[int, int, str]] = []  # (word index, offset, canonical) of ambiguous forms
        place_indices: set[int] = set()
        for index, word in enumerate(words):
            canonical = self.canonical.get(word)
            if canonical is not None:
                place_indices.add(index)
                if word == canonical and canonical in self.ambiguous:
                    pending.append((index, offset, canonical))
                else:
                    found.append((offset, canonical))
            offset += len(word)
        found.extend((at, canonical) for index, at, canonical in pending
                     if _next_to_place(words, index, place_indices))
        return found


def _next_to_place(words: list[str], index: int, place_indices: set[int]) -> bool:
    """Whether the nearest word on either side, past list separators, is a place name too."""
    for step in (-1, 1):
        i = index + step
        while 0 <= i < len(words) and words[i] in _LIST_SEPARATORS:
            i += step
        if i in place_indices:
            return True
    return False


class Places:
    """Place lookups over a text: the tables, read with the tokenizer's words and the glossary's
    pinyin names (``Huishui County`` → 惠水)."""

    def __init__(self, names: PlaceNames, tokenizer: Tokenizer, expansion: Expansion) -> None:
        self.names = names
        self.tokenizer = tokenizer
        self.expansion = expansion
        self._elsewhere: frozenset[str] | None = None
        self._lock = threading.Lock()

    def canonical_place(self, name: str) -> str | None:
        """The canonical short form of a place written in Chinese or pinyin, else ``None``.

        ``惠水县`` → ``惠水``; ``Huishui`` → ``惠水``; ``惠水—长顺城镇组团`` → itself.
        """
        canonical = self.names.canonical
        word = normalize(name).strip()
        if word in canonical:
            return canonical[word]
        cluster = word.translate(_DASHES)
        if cluster in self.names.clusters:
            return cluster
        for _, targets in self.expansion.glossary_hits(name):
            for target in targets:
                if target in canonical:
                    return canonical[target]
        return None

    def places_in(self, text: str) -> list[str]:
        """Places mentioned in ``text`` (canonical short forms, first mention first, no repeats).

        Chinese names are found as whole jieba words, so 山水城市 does not mention 水城; pinyin
        names through the glossary (``Huishui County`` → 惠水). Ambiguous short forms count only
        next to another place name (``place_ambiguous.txt``).
        """
        found = self.names.found_in(self.tokenizer.cut(text))
        for at, targets in self.expansion.glossary_hits(text):
            for target in targets:
                canonical = self.names.canonical.get(target)
                if canonical is not None:
                    found.append((at, canonical))
        found.sort(key=lambda item: item[0])
        return list(dict.fromkeys(canonical for _, canonical in found))

    def other_places(self, text: str) -> list[str]:
        """Names of places outside the lexicon's own (北京市, 上海, 深圳) that ``text`` mentions: words
        jieba's dictionary tags ``ns``, without generic place nouns (城镇, 山区) and counts (四县).

        A question about another city's figures is not answered by a Guizhou reply that lacks
        them; the gate uses these as anchors the way it uses :meth:`places_in`.
        """
        words = self.tokenizer.cut(text)  # first: reading the names needs the tokenizer built
        elsewhere = self._names_elsewhere()
        names = self.names
        found = [w for w in words
                 if w in elsewhere and w not in names.canonical and w not in names.generic
                 and not _COUNTED_PLACE.match(w)]
        return list(dict.fromkeys(found))

    def _names_elsewhere(self) -> frozenset[str]:
        """The ``ns`` words of jieba's main dictionary (~18k; a set, not jieba's 350k-entry tag table)."""
        if self._elsewhere is None:
            with self._lock:
                if self._elsewhere is None:
                    names = set()
                    with self.tokenizer.jieba().get_dict_file() as handle:
                        for line in handle:
                            parts = line.decode("utf-8").split()
                            if len(parts) >= 3 and parts[2] == "ns" and len(parts[0]) >= 2:
                                names.add(parts[0])
                    self._elsewhere = frozenset(names)
        return self._elsewhere

    def cluster_of(self, place: str) -> list[str]:
        """The place and the places it goes with, for boosting (canonical forms, place first).

        A town brings its county; a county brings the other members of its town cluster
        (惠水 → 长顺); a compound brings its parts (贵阳贵安 → 贵阳, 贵安); and every county in the
        result brings the towns of it named in replies (长顺 → 广顺). Unknown names come back alone.
        """
        canonical = self.canonical_place(place)
        return [place] if canonical is None else self.names.related(canonical)


def _one_to_one(path: Path, expected: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, line, key, values in read_table(path, expected):
        if len(values) != 1:
            raise ValueError(f"{path}:{lineno}: expected {expected!r}, got {line!r}")
        out[key.strip()] = values[0]
    return out
