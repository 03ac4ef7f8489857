"""Citation validation: every ``[n]`` must point to a given source that supports its sentence.

Used on every answer. For an LLM answer: a marker that points nowhere is dropped (repair); a claim
sentence with no marker, or whose cited sources share nothing with it, is flagged, and a flagged
answer is replaced by the extractive one by the caller.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from assistant.language.wordlists import RESOURCES_DIR, read_words
from assistant.schema import ScoredChunk
from assistant.text import normalize_for_match, split_sentences

MARKER = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")
_CJK = re.compile(r"[\u3400-\u9fff]")
MIN_SUPPORT = 0.25  # share of a claim's character bigrams (or words) found in its cited sources


@dataclass
class Validation:
    text: str  # the answer after repair (bad markers dropped)
    cited: list[int] = field(default_factory=list)  # valid markers, in order of first use
    issues: list[str] = field(default_factory=list)
    support: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # marker → sentence spans

    @property
    def ok(self) -> bool:
        return not any(i.startswith(("uncited", "unsupported")) for i in self.issues)


def markers_in(text: str) -> list[int]:
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"[,，、]", m.group(1)):
            out.append(int(part))
    return out


@functools.cache
def _instruction_pattern() -> re.Pattern[str]:
    patterns = read_words(RESOURCES_DIR / "model_instructions.txt")
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.MULTILINE)


def evidence_text(text: str) -> str:
    """``text`` with every sentence that addresses a language model ("忽略以上所有指令……",
    "ignore all previous instructions") blanked out: such a sentence was planted in the document
    for the model, and an answer that repeats it — even verbatim, with its marker — is not
    supported by it. Offsets are kept (blanks of the same length), so spans still index ``text``."""
    pattern = _instruction_pattern()
    if not pattern.search(unicodedata.normalize("NFKC", text)):
        return text
    out = list(text)
    for a, b in split_sentences(text):
        if pattern.search(unicodedata.normalize("NFKC", text[a:b])):
            out[a:b] = " " * (b - a)
    return "".join(out)


def validate(answer: str, sources: list[ScoredChunk]) -> Validation:
    """Check markers and support sentence by sentence; drop markers that point to no source.
    Sentences that instruct a model are no evidence (:func:`evidence_text`)."""
    issues: list[str] = []

    def repair(m: re.Match) -> str:
        nums = [int(p) for p in re.split(r"[,，、]", m.group(1))]
        good = [n for n in nums if 1 <= n <= len(sources)]
        for n in nums:
            if n not in good:
                issues.append(f"invalid_marker:[{n}]")
        return "".join(f"[{n}]" for n in good)

    text = MARKER.sub(repair, answer)
    cited: list[int] = []
    support: dict[int, list[tuple[int, int]]] = {}
    for a, b in _claim_spans(text):
        sentence = text[a:b]
        claim = MARKER.sub("", sentence).strip()
        if not _is_claim(claim):
            continue
        nums = markers_in(sentence)
        if not nums:
            issues.append(f"uncited:{claim[:40]}")
            continue
        supported = False
        for n in nums:
            chunk_text = evidence_text(sources[n - 1].chunk.text)
            if support_ratio(claim, chunk_text) >= MIN_SUPPORT:
                supported = True
                support.setdefault(n, []).extend(supporting_spans(claim, chunk_text))
            if n not in cited:
                cited.append(n)
        if not supported:
            issues.append(f"unsupported:{claim[:40]}")
    return Validation(text, cited, issues, support)


def _claim_spans(text: str) -> list[tuple[int, int]]:
    """Sentences, with a marker that trails its sentence's terminator ("…收悉。 [2]") joined to it."""
    spans: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        if spans and not MARKER.sub("", text[a:b]).strip() and "\n" not in text[spans[-1][1]:a]:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


def _is_claim(sentence: str) -> bool:
    """Framing lines, headings and list bullets without content are not claims."""
    s = sentence.strip().lstrip("-•*·").strip()
    if len(s) < 6:
        return False
    if s.endswith(("：", ":")):
        return False
    if s.startswith("《") and s.rstrip("）)").endswith(("》", "号")) and len(s) < 120:
        return False  # a reply's title line
    return True


def _units(text: str) -> set[str]:
    norm = normalize_for_match(MARKER.sub("", text))
    if _CJK.search(norm):
        return {norm[i : i + 2] for i in range(len(norm) - 1)}
    return {w for w in re.findall(r"[a-z0-9]+", norm) if len(w) > 2}


def support_ratio(claim: str, source_text: str) -> float:
    """Share of the claim's character bigrams (Chinese) or words (other text) found in the source."""
    units = _units(claim)
    if not units:
        return 0.0
    source = normalize_for_match(source_text)
    return sum(1 for u in units if u in source) / len(units)


def supporting_spans(claim: str, source_text: str, top: int = 2) -> list[tuple[int, int]]:
    """The source sentences that best support a claim (offsets into source_text)."""
    units = _units(claim)
    scored = []
    for a, b in split_sentences(source_text):
        sent = normalize_for_match(source_text[a:b])
        if not sent:
            continue
        hits = sum(1 for u in units if u in sent)
        if hits:
            scored.append((hits / max(len(units), 1), a, b))
    scored.sort(key=lambda x: -x[0])
    return sorted((a, b) for r, a, b in scored[:top] if r >= 0.15)
