"""Evaluation metrics: pure functions over judged questions, no I/O and no model.

A question is judged once (``Judged``): which of its retrieved sources and which of its cited
chunks contain a gold phrase, whether it was refused, how long each stage took. Everything in the
report is computed from these records, so the same code scores our assistant and the naive
baseline.

Relevance follows the question-file contract: a chunk is relevant when its text contains any of
the question's ``sources_contain`` phrases, both sides NFKC-normalised with all white space
removed. A chunk retrieved twice earns credit once (the repeat is judged not relevant), so a
retriever cannot inflate nDCG by returning the same text again.

>>> rel = judge_texts(["其他内容", "培育惠水—长顺城镇组团"], ["惠水—长顺 城镇组团"])
>>> rel, hit_at(rel, 1), hit_at(rel, 3), reciprocal_rank(rel)
([False, True], 0.0, 1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from assistant.text import match_form

#: Retrieval cut-offs reported as hit@k.
HIT_CUTOFFS = (1, 3, 5)
#: The cut-off of nDCG.
NDCG_CUTOFF = 5

#: The contract's matching form (NFKC, white space removed), under the name the evaluation uses.
normalize_for_match = match_form


def contains_any(text: str, phrases: Iterable[str]) -> bool:
    """Whether ``text`` contains any of ``phrases`` (empty phrases never match)."""
    haystack = normalize_for_match(text)
    return any(p and p in haystack for p in (normalize_for_match(x) for x in phrases))


def judge_texts(texts: Sequence[str], phrases: Sequence[str], keys: Sequence[str] | None = None) -> list[bool]:
    """Relevance of each retrieved text, in rank order; repeats (same key) after the first are False.

    ``keys`` identify the chunks (chunk ids); without them the normalised text is the identity.
    """
    seen: set[str] = set()
    out: list[bool] = []
    for i, text in enumerate(texts):
        key = keys[i] if keys is not None else normalize_for_match(text)
        out.append(key not in seen and contains_any(text, phrases))
        seen.add(key)
    return out


# ---- ranking metrics (one question) ------------------------------------------------------------
def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant source is among the first ``k``, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int | None = None) -> float:
    """1 / rank of the first relevant source (within the first ``k`` when given), 0.0 if none."""
    for rank, rel in enumerate(relevant[:k] if k else relevant, start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def dcg_at(relevant: Sequence[bool], k: int) -> float:
    """Discounted cumulative gain with binary gains: sum of 1 / log2(rank + 1)."""
    return sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(relevant[:k], start=1) if rel)


def ndcg_at(relevant: Sequence[bool], k: int, n_relevant: int | None = None) -> float:
    """DCG@k over the ideal DCG@k.

    The ideal ranking puts ``n_relevant`` relevant chunks first — the number of chunks in the
    whole index that contain a gold phrase, when the caller knows it. Without it (or when it is
    smaller than what was retrieved) the relevant sources actually retrieved stand in, which can
    only over-estimate. No relevant chunk at all gives 0.0.
    """
    found = sum(1 for rel in relevant[:k] if rel)
    ideal_n = min(k, max(found, n_relevant or 0))
    if ideal_n == 0:
        return 0.0
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_n + 1))
    return dcg_at(relevant, k) / ideal


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# ---- judged questions and their summary --------------------------------------------------------
@dataclass
class Judged:
    """One question's outcome, reduced to what the metrics need.

    ``cited`` is None for a system that does not cite (the naive baseline); ``n_relevant`` is the
    number of relevant chunks in that system's index (None when unknown); ``groups`` holds the
    breakdown keys (``language``, ``turn``, ``set``).
    """

    qid: str
    answerable: bool
    refused: bool
    retrieved: list[bool]
    cited: list[bool] | None = None
    n_relevant: int | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(judged: Sequence[Judged]) -> dict:
    """All metrics over a set of judged questions; a metric with nothing to average is None.

    - ``hit@1/3/5``, ``mrr``, ``ndcg@5``: retrieval, answerable questions only.
    - ``citation_precision``: of all chunks cited in answers to answerable questions that were
      answered, the share containing a gold phrase (micro-average: an answer without citations
      adds nothing to either side).
    - ``citation_coverage``: share of answerable questions whose citations include a gold chunk
      (a refusal counts as a miss).
    - ``refused_unanswerable`` / ``answered_answerable``: refusal accuracy, each way;
      ``refusal_accuracy``: share of all questions where the refuse/answer decision was right.
    - ``cited_answers``: share of the answers given (not refused) that carry at least one citation.
    """
    answerable = [j for j in judged if j.answerable]
    unanswerable = [j for j in judged if not j.answerable]
    out: dict = {}
    for k in HIT_CUTOFFS:
        out[f"hit@{k}"] = _mean([hit_at(j.retrieved, k) for j in answerable])
    out["mrr"] = _mean([reciprocal_rank(j.retrieved) for j in answerable])
    out[f"ndcg@{NDCG_CUTOFF}"] = _mean([ndcg_at(j.retrieved, NDCG_CUTOFF, j.n_relevant) for j in answerable])

    citing = [j for j in judged if j.cited is not None]
    answered_ans = [j for j in answerable if j.cited is not None and not j.refused]
    cited_total = sum(len(j.cited or []) for j in answered_ans)
    cited_gold = sum(sum(1 for c in j.cited or [] if c) for j in answered_ans)
    out["citation_precision"] = cited_gold / cited_total if cited_total else None
    out["citation_coverage"] = (
        _mean([1.0 if any(j.cited or []) and not j.refused else 0.0 for j in answerable])
        if citing else None
    )
    out["refused_unanswerable"] = _mean([1.0 if j.refused else 0.0 for j in unanswerable])
    out["answered_answerable"] = _mean([0.0 if j.refused else 1.0 for j in answerable])
    out["refusal_accuracy"] = _mean([1.0 if j.refused != j.answerable else 0.0 for j in judged])
    answered = [j for j in citing if not j.refused]
    out["cited_answers"] = _mean([1.0 if j.cited else 0.0 for j in answered]) if citing else None
    out["n"] = {
        "questions": len(judged),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answered": sum(1 for j in judged if not j.refused),
        "citations": cited_total,
        "errors": sum(1 for j in judged if j.error),
    }
    return out


def latency(judged: Sequence[Judged], quantiles: Sequence[float] = (50, 95)) -> dict[str, dict[str, float]]:
    """``{stage: {"p50": ms, "p95": ms, "n": count}}`` over every stage found in ``timings_ms``."""
    stages: dict[str, list[float]] = {}
    for j in judged:
        for stage, ms in j.timings_ms.items():
            stages.setdefault(stage, []).append(float(ms))
    out: dict[str, dict[str, float]] = {}
    for stage in sorted(stages, key=_stage_order):
        values = stages[stage]
        row = {f"p{q:g}": round(percentile(values, q), 2) for q in quantiles}
        row["n"] = len(values)
        out[stage] = row
    return out


_STAGE_ORDER = ("rewrite", "retrieve", "retrieve.embed", "retrieve.dense", "retrieve.lexical",
                "retrieve.fuse", "answer", "validate", "total")


def _stage_order(stage: str) -> tuple[int, str]:
    return (_STAGE_ORDER.index(stage) if stage in _STAGE_ORDER else len(_STAGE_ORDER), stage)


def breakdown(judged: Sequence[Judged], key: str) -> dict[str, dict]:
    """``summarize`` per value of ``groups[key]`` (sorted by group name)."""
    groups: dict[str, list[Judged]] = {}
    for j in judged:
        groups.setdefault(j.groups.get(key, "?"), []).append(j)
    return {name: summarize(members) for name, members in sorted(groups.items())}


def problems(j: Judged, k: int) -> list[str]:
    """Why a question counts as a failure (empty when it does not).

    ``retrieval_miss`` — no gold chunk in the top k; ``refused_answerable`` / ``answered_unanswerable``
    — the wrong refusal decision; ``citation_miss`` — answered, gold retrieved, but no citation
    points at a gold chunk; ``gold_not_in_index`` — no chunk of the index contains a gold phrase
    (the question set, not the assistant, needs fixing); ``error`` — the question was rejected.
    """
    out: list[str] = []
    if j.error:
        out.append("error")
    if j.answerable:
        if j.n_relevant == 0:
            out.append("gold_not_in_index")
        if not any(j.retrieved[:k]):
            out.append("retrieval_miss")
        if j.refused:
            out.append("refused_answerable")
        elif j.cited is not None and any(j.retrieved[:k]) and not any(j.cited):
            out.append("citation_miss")
    elif not j.refused:
        out.append("answered_unanswerable")
    return out


def count_relevant(normalized_texts: Iterable[str], phrases: Sequence[str]) -> int:
    """How many chunks of an index contain a gold phrase: nDCG's ideal count.

    ``normalized_texts`` are the index's chunk texts already passed through
    ``normalize_for_match`` (done once per index, not once per question).
    """
    wanted = [p for p in (normalize_for_match(x) for x in phrases) if p]
    if not wanted:
        return 0
    return sum(1 for t in normalized_texts if any(p in t for p in wanted))
