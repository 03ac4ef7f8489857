"""Question files (JSONL, see ARCHITECTURE.md "Question file"): reading and checking them, line by line."""

from __future__ import annotations

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

    @property
    def turn(self) -> str:
        return "follow_up" if self.history else "single"


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
        ))
    return out
