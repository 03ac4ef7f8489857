"""Question files (JSONL, see ARCHITECTURE.md "Question file"): reading and checking them, line by line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from assistant.evaluation.metrics import normalize_for_match


class QuestionFileError(ValueError):
    """A question file is malformed; the message names the file and line."""


@dataclass
class EvalQuestion:
    """One line of a question file (see ARCHITECTURE.md, "Question file")."""

    id: str
    question: str
    history: list[dict] = field(default_factory=list)
    answerable: bool = True
    sources_contain: list[str] = field(default_factory=list)
    lang: str | None = None
    set_name: str = ""
    topic: str = ""
    kind: str = ""  # the file's "kind", else a kinds table's, else derived (see :func:`kind_of`)

    @property
    def turn(self) -> str:
        return "follow_up" if self.history else "single"

    def fold(self, folds: int) -> int:
        """The question's fold of ``folds``: a hash of its id, so a question keeps its fold whatever else
        the set holds (tune on some folds, report on the others)."""
        return int.from_bytes(hashlib.sha1(self.id.encode()).digest()[:4], "big") % folds


#: The kinds a question is reported by (#19's table): the document's own terms, everyday words, English,
#: follow-ups, header facts, unanswerable.
KINDS = ("own_terms", "everyday", "english", "follow_up", "header", "unanswerable")


def kind_of(q: EvalQuestion, language: str) -> str:
    """The question's kind: as given (the file or a kinds table), else read from what it is: refused by
    design, a follow-up, about the header or closing, in English, else in the documents' own terms."""
    if q.kind:
        return q.kind
    if not q.answerable:
        return "unanswerable"
    if q.history:
        return "follow_up"
    if q.topic.startswith(("header", "closing")):
        return "header"
    return "english" if (q.lang or language) == "en" else "own_terms"


def read_kinds_table(path: Path) -> list[tuple[str, str, str]]:
    """``first id  last id  kind`` lines (tab-separated; ``#`` comments): the kinds of question files that
    cannot carry them (read-only sets), by id range, ids compared as strings of equal width."""
    rows = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in KINDS:
            raise QuestionFileError(f"{path}:{lineno}: want 'first<TAB>last<TAB>kind', kind one of {KINDS}")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def apply_kinds(questions: list[EvalQuestion], table: list[tuple[str, str, str]]) -> None:
    """Give questions without a kind of their own the kind of the id range they fall in."""
    for q in questions:
        if q.kind:
            continue
        for first, last, kind in table:
            if len(q.id) == len(first) == len(last) and first <= q.id <= last:
                q.kind = kind
                break


def load_questions(path: Path) -> list[EvalQuestion]:
    """Every question of a JSONL file, or of every ``*.jsonl`` file in a folder (each file is a set)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path} (no *.jsonl question file in this folder)")
    questions: list[EvalQuestion] = []
    for file in files:
        questions.extend(_read_question_file(file))
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise QuestionFileError(f"{path}: question ids are not unique: {', '.join(duplicates[:10])}")
    return questions


def _read_question_file(file: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    name = file.name.removesuffix(".jsonl")
    for lineno, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{file}:{lineno}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise QuestionFileError(f"{where}: each line must be an object with a \"question\" string")
        expected = item.get("expected") or {}
        if not isinstance(expected, dict) or not isinstance(expected.get("answerable", True), bool):
            raise QuestionFileError(f"{where}: \"expected\" must be an object with a boolean \"answerable\"")
        phrases = expected.get("sources_contain") or []
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise QuestionFileError(f"{where}: \"sources_contain\" must be a list of strings")
        answerable = expected.get("answerable", True)
        if answerable and not any(normalize_for_match(p) for p in phrases):
            raise QuestionFileError(f"{where}: an answerable question needs at least one sources_contain phrase")
        history = item.get("history") or []
        if not isinstance(history, list):
            raise QuestionFileError(f"{where}: \"history\" must be a list of {{role, content}} messages")
        out.append(EvalQuestion(
            id=str(item.get("id") or f"{name}-{lineno}"), question=item["question"], history=history,
            answerable=answerable, sources_contain=phrases, lang=item.get("lang") or None, set_name=name,
            topic=str(item.get("topic") or ""), kind=_kind(item, where),
        ))
    return out


def _kind(item: dict, where: str) -> str:
    kind = item.get("kind") or ""
    if kind and kind not in KINDS:
        raise QuestionFileError(f"{where}: \"kind\" must be one of {', '.join(KINDS)} (got {kind!r})")
    return kind
