"""The conversation log and citizens' feedback: what was asked, what was answered or refused.

A row holds the time, the question and its standalone form, the answer, whether it was refused
and why, the cited chunk ids, the latency and the channel (page, widget, api). Never an IP
address or a cookie: nothing in a row says who asked. Rows older than the retention period are
purged (:meth:`ConversationLog.purge`, at start and daily).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from assistant.admin.store import AdminStore, now

CHANNELS = ("page", "widget", "api")
RATINGS = ("up", "down")
_COLUMNS = "answer_id, at, channel, question, standalone, answer, refused, reason, cited, latency_ms"
CSV_HEADER = ("answer_id", "time_utc", "channel", "question", "standalone_question", "answer", "refused",
              "reason", "cited_chunk_ids", "latency_ms", "feedback")


@dataclass(frozen=True)
class LogFilter:
    refused: bool | None = None
    channel: str | None = None
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive

    def where(self) -> tuple[str, list]:
        parts, params = [], []
        for clause, value in (("refused = ?", None if self.refused is None else int(self.refused)),
                              ("channel = ?", self.channel), ("at >= ?", self.since), ("at < ?", self.until)):
            if value is not None:
                parts.append(clause)
                params.append(value)
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _row_dict(row: tuple, feedback: list[dict]) -> dict:
    data = dict(zip(_COLUMNS.split(", "), row, strict=True))
    data["refused"] = bool(data["refused"])
    data["cited"] = json.loads(data["cited"])
    data["feedback"] = feedback
    return data


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class ConversationLog:
    def __init__(self, store: AdminStore, retention_days: int = 180):
        self.store = store
        self.retention_days = retention_days

    def record(self, answer: dict, channel: str, latency_ms: float) -> str:
        """Log one answer (an ``Answer`` as a dict); returns its new ``answer_id``."""
        answer_id = secrets.token_hex(12)
        cited = [c.get("chunk_id") for c in answer.get("citations") or [] if c.get("chunk_id")]
        self.store.execute(
            f"INSERT INTO conversations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (answer_id, now(), channel, answer.get("question", ""), answer.get("standalone_question", ""),
             answer.get("answer", ""), int(bool(answer.get("refused"))), answer.get("refusal_reason") or "",
             json.dumps(cited), round(latency_ms, 1)))
        return answer_id

    def feedback(self, answer_id: str, rating: str, comment: str = "") -> bool:
        """Store a rating of a logged answer; False when the answer is unknown (or purged)."""
        if rating not in RATINGS:
            raise ValueError(rating)
        with self.store.transaction() as con:
            if not con.execute("SELECT 1 FROM conversations WHERE answer_id = ?", (answer_id,)).fetchone():
                return False
            con.execute("INSERT INTO feedback (answer_id, at, rating, comment) VALUES (?, ?, ?, ?)",
                        (answer_id, now(), rating, comment))
        return True

    def rows(self, where: LogFilter = LogFilter(), limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
        """``(matching rows in all, one page of them newest first)``, each with its feedback."""
        sql, params = where.where()
        total = self.store.query(f"SELECT COUNT(*) FROM conversations{sql}", params)[0][0]
        page = self.store.query(f"SELECT {_COLUMNS} FROM conversations{sql} ORDER BY at DESC LIMIT ? OFFSET ?",
                                [*params, limit, offset])
        return total, [_row_dict(r, self._feedback_of(r[0])) for r in page]

    def _feedback_of(self, answer_id: str) -> list[dict]:
        return [{"at": at, "rating": rating, "comment": comment} for at, rating, comment in self.store.query(
            "SELECT at, rating, comment FROM feedback WHERE answer_id = ? ORDER BY at", (answer_id,))]

    def csv(self, where: LogFilter = LogFilter(), limit: int = 100_000) -> str:
        """The matching rows as CSV (UTF-8 with BOM so that spreadsheet programs read the Chinese)."""
        _, rows = self.rows(where, limit=limit)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for r in rows:
            feedback = "; ".join(f"{f['rating']}: {f['comment']}".rstrip(": ") for f in r["feedback"])
            writer.writerow([r["answer_id"], _iso(r["at"]), r["channel"], *map(_cell, (
                r["question"], r["standalone"], r["answer"])), int(r["refused"]), r["reason"],
                " ".join(r["cited"]), r["latency_ms"], _cell(feedback)])
        return "\ufeff" + out.getvalue()

    def purge(self, at: float | None = None) -> int:
        """Delete rows (and their feedback) older than the retention period; returns how many."""
        cutoff = (now() if at is None else at) - self.retention_days * 86400
        with self.store.transaction() as con:
            old = "SELECT answer_id FROM conversations WHERE at < ?"
            con.execute(f"DELETE FROM feedback WHERE answer_id IN ({old})", (cutoff,))
            return con.execute("DELETE FROM conversations WHERE at < ?", (cutoff,)).rowcount

    def stats(self, tokenize: Callable[[str], list[str]], days: int = 30, top: int = 20) -> dict:
        """What the admin screen shows: questions per day, the refusal rate, refused questions grouped
        by shared content words, the slowest answers and the answers marked down with a comment."""
        since = now() - days * 86400
        per_day = [{"day": d, "questions": n, "refused": r} for d, n, r in self.store.query(
            "SELECT date(at, 'unixepoch') AS d, COUNT(*), SUM(refused) FROM conversations WHERE at >= ? "
            "GROUP BY d ORDER BY d", (since,))]
        total = sum(d["questions"] for d in per_day)
        refused = [q for (q,) in self.store.query(
            "SELECT question FROM conversations WHERE refused = 1 AND at >= ? ORDER BY at DESC LIMIT 2000",
            (since,))]
        slowest = [{"answer_id": a, "at": at, "question": q, "latency_ms": ms, "channel": ch}
                   for a, at, q, ms, ch in self.store.query(
                       "SELECT answer_id, at, question, latency_ms, channel FROM conversations WHERE at >= ? "
                       "ORDER BY latency_ms DESC LIMIT ?", (since, top))]
        down = [{"answer_id": a, "at": at, "question": q, "answer": ans, "comment": c}
                for a, at, q, ans, c in self.store.query(
                    "SELECT c.answer_id, f.at, c.question, c.answer, f.comment FROM feedback f JOIN conversations c "
                    "USING (answer_id) WHERE f.rating = 'down' AND f.at >= ? ORDER BY f.at DESC LIMIT ?",
                    (since, top))]
        return {"days": days, "questions": total, "refused": sum(d["refused"] or 0 for d in per_day),
                "refusal_rate": round(sum(d["refused"] or 0 for d in per_day) / total, 4) if total else 0.0,
                "per_day": per_day, "refused_groups": group_similar(refused, tokenize)[:top],
                "slowest": slowest, "down_with_comments": down}


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @ first: CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def group_similar(questions: list[str], tokenize: Callable[[str], list[str]],
                  threshold: float = 0.5) -> list[dict]:
    """Questions grouped greedily by the overlap of their content words (Jaccard ≥ ``threshold``
    with the group's first question), largest groups first: the top gaps in the replies."""
    groups: list[tuple[set[str], list[str]]] = []
    for question in questions:
        words = {w for w in tokenize(question) if len(w) >= 2 or not w.isascii()}
        for key, members in groups:
            if words and len(words & key) / len(words | key) >= threshold:
                members.append(question)
                break
        else:
            groups.append((words, [question]))
    groups.sort(key=lambda g: -len(g[1]))
    return [{"count": len(m), "example": m[0], "questions": list(dict.fromkeys(m))[:10],
             "words": sorted(k)} for k, m in groups]
