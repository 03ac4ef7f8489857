"""Fitting the ranker and the gate, cross-validated by folds grouped by the answering document.

The ranker is a logistic regression over candidate features (label: the candidate holds a gold
phrase). Its out-of-fold scores order each question's candidates; the gate's features are computed
from that order (stacking: the gate learns from the ranker's behaviour on questions it did not see,
as at run time), and the gate — a logistic regression, label: answerable and a gold section in the
top 5 — is cross-validated on the same folds. The two facts about language (no fact of the asked-for
kind in the first three sections, a named place or year absent) refuse as checks
(:data:`~assistant.retrieval.gate.CHECKS`): as features alone the model could not learn them from 35
unanswerable questions (26% of them refused at 5% answerable refused), so the model is fitted on the
questions the checks let through.
Each held-out fold is refused at a threshold chosen on the other folds alone (an inner
cross-validation) for ≤ 5% answerable refused, checks included — and never above the threshold that
keeps that share on a question set the models did not see (:func:`shift_threshold`): folds by document
share the sets' authors and style, and a gate calibrated on them refused a fifth of the answerable
questions of a set written by someone else. scikit-learn is a
training-time dependency (the ``dev`` extra); the app evaluates the written models with numpy.
"""

from __future__ import annotations

import datetime
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.evaluation.train import Sample
from assistant.retrieval.features import CANDIDATE_FEATURES, GATE_FEATURES, question_features
from assistant.retrieval.gate import ANSWERS, CHECKS
from assistant.retrieval.model import LinearModel

__all__ = ["ANSWERABLE_REFUSED", "cross_validate", "fit_final", "write_models"]

#: The share of answerable questions the gate may refuse on held-out folds.
ANSWERABLE_REFUSED = 0.05
TOP = 5  # the gate's label: a gold section among the first TOP
# Logistic regressions' inverse regularisation (features are standardised). The ranker's is strong:
# with C=1 it re-orders the fusion's first place for the worse (hit@1 0.78 vs 0.80 cross-validated).
RANKER_C = 0.01
# The gate's: the best of 0.01, 0.03, 0.1, 0.3, 1, 3 cross-validated (answerable refused 9.4, 8.5, 8.1,
# 7.7, 6.8, 7.2%; unanswerable refused 57% at 0.01, 66% at 3, else 63%; Brier 0.079 at 0.03, 0.098 at 1).
GATE_C = 1.0
_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def _fit(X: np.ndarray, y: np.ndarray, features: Sequence[str], threshold: float = 0.5,
         C: float = GATE_C) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000).fit((X - mean) / scale, y)
    return LinearModel(tuple(features), mean, scale, lr.coef_[0], float(lr.intercept_[0]), threshold)


def fit_ranker(samples: Sequence[Sample]) -> LinearModel:
    """The ranker, on the candidates of questions with a gold section among them."""
    used = [s for s in samples if s.labels.any()]
    return _fit(np.vstack([s.X for s in used]), np.concatenate([s.labels for s in used]), CANDIDATE_FEATURES,
                C=RANKER_C)


def gate_rows(samples: Sequence[Sample], rankers: Sequence[LinearModel], rerank: bool = False
              ) -> tuple[np.ndarray, np.ndarray, list]:
    """Each question's gate features with its candidates in ``rankers[i]``'s order (the fused order
    unless ``rerank``, as the app's ``rerank`` setting), its label, and each question's candidate
    labels in the ranker's order (for the ranker's figures)."""
    rows, ys, ordered = [], [], []
    for s, ranker in zip(samples, rankers):
        logits = ranker.logits(s.X) if len(s.X) else np.zeros(0)
        by_ranker = np.argsort(-logits, kind="stable")
        order = by_ranker if rerank else np.arange(len(s.X))
        rows.append(question_features(s.static, s.X[order], logits[order]))
        ordered.append(s.labels[by_ranker])
        ys.append(s.answerable and bool(s.labels[order][:TOP].any()))
    return np.vstack(rows), np.array(ys), ordered


def checked(G: np.ndarray) -> np.ndarray:
    """The questions the checks decide (:func:`~assistant.retrieval.gate.decide`): refused by one, or
    answered from the card; the model is fitted and thresholded on the others."""
    return refused_by_checks(G) | (G[:, GATE_FEATURES.index(ANSWERS)] > 0)


def refused_by_checks(G: np.ndarray) -> np.ndarray:
    return np.any(G[:, [GATE_FEATURES.index(name) for name in CHECKS]] > 0, axis=1)


def choose_threshold(p: np.ndarray, answerable: np.ndarray, checks: np.ndarray, refusing: np.ndarray,
                     share: float = ANSWERABLE_REFUSED) -> float:
    """The highest threshold that refuses (p < threshold, among the questions the ``checks`` leave to
    the model) at most ``share`` of the answerable, those the checks refuse (``refusing``) included
    (0: the checks spent the budget, the model refuses nothing more)."""
    budget = int(np.floor(share * answerable.sum())) - int((refusing & answerable).sum())
    ps = np.sort(p[answerable & ~checks])
    return float(ps[budget]) if 0 <= budget < len(ps) else 0.0


def _folds(samples: Sequence[Sample], n: int) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    fold = np.zeros(len(samples), dtype=int)
    groups = [s.group for s in samples]
    for f, (_, test) in enumerate(GroupKFold(n_splits=n).split(np.zeros(len(samples)), groups=groups)):
        fold[test] = f
    return fold


def _gate_probabilities(train: Sequence[Sample], test: Sequence[Sample], rerank: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ranker and gate fitted on ``train``; for ``test``: the gate's probabilities, which questions
    are answerable, which the checks decide and which they refuse."""
    ranker = fit_ranker(train)
    G, y, _ = gate_rows(train, [ranker] * len(train), rerank)
    model = _fit(G[~checked(G)], y[~checked(G)], GATE_FEATURES)
    T, _, _ = gate_rows(test, [ranker] * len(test), rerank)
    return (model.probability(T), np.array([s.answerable for s in test]), checked(T), refused_by_checks(T))


def shift_threshold(samples: Sequence[Sample], rerank: bool = False) -> tuple[float, dict[str, dict]]:
    """The highest threshold that refuses ≤ :data:`ANSWERABLE_REFUSED` of each question set's answerable
    questions when both models are fitted on the other sets alone (leave one set out), and per set
    that threshold with what the in-distribution one refuses there (1.0: fewer than two sets)."""
    sources = sorted({s.source for s in samples})
    if len(sources) < 2:
        return 1.0, {}
    out = {}
    for held in sources:
        test = [s for s in samples if s.source == held]
        p, answerable, checks, refusing = _gate_probabilities([s for s in samples if s.source != held], test, rerank)
        out[held] = {"threshold": choose_threshold(p, answerable, checks, refusing), "p": p,
                     "answerable": answerable, "checks": checks, "refusing": refusing}
    return min(v["threshold"] for v in out.values()), out


def cross_validate(samples: Sequence[Sample], n: int, say: Callable[[str], None] = print,
                   rerank: bool = False) -> dict:
    """Cross-validated figures (by kind, calibration) of the ranker and gate; the out-of-fold gate
    probabilities choose the threshold shipped (under key ``threshold``)."""
    fold = _folds(samples, n)
    rankers: list[LinearModel | None] = [None] * len(samples)
    for f in range(n):
        ranker = fit_ranker([s for s, g in zip(samples, fold) if g != f])
        for i in np.flatnonzero(fold == f):
            rankers[i] = ranker
    G, y, ordered = gate_rows(samples, rankers, rerank)
    answerable = np.array([s.answerable for s in samples])
    checks = checked(G)
    refusing = refused_by_checks(G)
    p = np.zeros(len(samples))
    refused = np.zeros(len(samples), dtype=bool)
    for f in range(n):
        inner = np.zeros(len(samples))
        rest = [g for g in range(n) if g != f]
        for g in rest:  # the threshold for fold f is chosen without fold f
            train = (fold != f) & (fold != g) & ~checks
            inner[fold == g] = _fit(G[train], y[train], GATE_FEATURES).probability(G[fold == g])
        out = fold != f
        threshold = min(choose_threshold(inner[out], answerable[out], checks[out], refusing[out]),
                        shift_threshold([s for s, g in zip(samples, fold) if g != f], rerank)[0])
        p[fold == f] = _fit(G[out & ~checks], y[out & ~checks], GATE_FEATURES).probability(G[fold == f])
        refused[fold == f] = refusing[fold == f] | ((p[fold == f] < threshold) & ~checks[fold == f])
    in_distribution = choose_threshold(p, answerable, checks, refusing)
    shifted, by_set = shift_threshold(samples, rerank)
    figures = {"folds": n, "questions": len(samples), "by_kind": _by_kind(samples, ordered, refused),
               "calibration": _calibration(p[~checks], y[~checks]),
               "refused_by_checks": {"answerable": round(float(refusing[answerable].mean()), 3),
                                     "unanswerable": round(float(refusing[~answerable].mean()), 3)},
               "shift": _shift_figures(by_set, in_distribution, shifted),
               "threshold": min(in_distribution, shifted),
               "gate_features_oof": [g.tolist() for g in G], "gate_labels": y.tolist()}
    _print(figures, say)
    return figures


def _by_kind(samples: Sequence[Sample], ordered: list, refused: np.ndarray) -> dict:
    out: dict[str, dict] = {}
    kinds = sorted({s.kind for s in samples})
    for kind in [*kinds, "all"]:
        idx = [i for i, s in enumerate(samples) if kind in ("all", s.kind)]
        ans = [i for i in idx if samples[i].answerable]
        una = [i for i in idx if not samples[i].answerable]

        def mean(values) -> float | None:
            values = list(values)
            return round(float(np.mean(values)), 3) if values else None

        out[kind] = {
            "n": len(idx), "answerable": len(ans),
            "hit@1_fused": mean(bool(samples[i].labels[:1].any()) for i in ans),
            "hit@1": mean(bool(ordered[i][:1].any()) for i in ans),
            "hit@5_fused": mean(bool(samples[i].labels[:5].any()) for i in ans),
            "hit@5": mean(bool(ordered[i][:5].any()) for i in ans),
            "answerable_refused": mean(refused[i] for i in ans),
            "unanswerable_refused": mean(refused[i] for i in una),
        }
    return out


def _shift_figures(by_set: dict[str, dict], in_distribution: float, shifted: float) -> dict:
    """Per left-out set: its own threshold, and the shares refused at the in-distribution threshold
    and at the shipped one (the lower of the two)."""
    def refused(v: dict, threshold: float, answerable: bool) -> float | None:
        mask = v["answerable"] if answerable else ~v["answerable"]
        hit = v["refusing"] | ((v["p"] < threshold) & ~v["checks"])
        return round(float(hit[mask].mean()), 3) if mask.any() else None

    shipped = min(in_distribution, shifted)
    return {name: {"threshold": round(v["threshold"], 4),
                   "in_distribution": {"threshold": round(in_distribution, 4),
                                       "answerable_refused": refused(v, in_distribution, True),
                                       "unanswerable_refused": refused(v, in_distribution, False)},
                   "shipped": {"threshold": round(shipped, 4), "answerable_refused": refused(v, shipped, True),
                               "unanswerable_refused": refused(v, shipped, False)}}
            for name, v in by_set.items()}


def _calibration(p: np.ndarray, y: np.ndarray) -> dict:
    table = []
    for lo, hi in itertools.pairwise(_BINS):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            table.append({"bin": f"{lo:.1f}–{min(hi, 1):.1f}", "n": int(inside.sum()),
                          "mean_p": round(float(p[inside].mean()), 3),
                          "observed": round(float(y[inside].mean()), 3)})
    return {"brier": round(float(np.mean((p - y) ** 2)), 4), "reliability": table}


def _print(figures: dict, say: Callable[[str], None]) -> None:
    say(f"交叉验证 / cross-validated ({figures['folds']} folds grouped by answering document, "
        f"{figures['questions']} questions)")
    cols = ("n", "hit@1_fused", "hit@1", "hit@5_fused", "hit@5", "answerable_refused", "unanswerable_refused")
    say("kind".ljust(13) + "".join(c.rjust(21) for c in cols))
    for kind, row in figures["by_kind"].items():
        say(kind.ljust(13) + "".join(("–" if row[c] is None else str(row[c])).rjust(21) for c in cols))
    cal = figures["calibration"]
    say(f"checks refuse {figures['refused_by_checks']}")
    say("each question set left out (fitted on the others): its threshold; refused answerable / unanswerable "
        "at the in-distribution and at the shipped threshold")
    for name, row in figures["shift"].items():
        a, b = row["in_distribution"], row["shipped"]
        say(f"  {name:<16} {row['threshold']:.3f}   {a['threshold']:.3f}: {a['answerable_refused']} / "
            f"{a['unanswerable_refused']}   {b['threshold']:.3f}: {b['answerable_refused']} / {b['unanswerable_refused']}")
    say(f"calibration (questions past the checks): Brier {cal['brier']}; reliability: " + "; ".join(
        f"{r['bin']}: n={r['n']} p̄={r['mean_p']} obs={r['observed']}" for r in cal["reliability"]))


def fit_final(samples: Sequence[Sample], figures: dict, meta: dict) -> tuple[LinearModel, LinearModel]:
    """Both models on all the data: the ranker on every question, the gate on the out-of-fold
    ranker's features (as it meets unseen questions), at the threshold chosen on held-out folds."""
    G = np.asarray(figures["gate_features_oof"])
    y = np.asarray(figures["gate_labels"], dtype=bool)
    info = {**meta, "trained": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
            "questions": len(samples), "cv": {"by_kind": figures["by_kind"],
                                              "calibration": figures["calibration"],
                                              "refused_by_checks": figures["refused_by_checks"],
                                              "shift": figures["shift"]}}
    ranker = _fit_with_meta(fit_ranker(samples), info)
    keep = ~checked(G)
    gate = _fit_with_meta(_fit(G[keep], y[keep], GATE_FEATURES, figures["threshold"]), info)
    return ranker, gate


def _fit_with_meta(model: LinearModel, meta: dict) -> LinearModel:
    return LinearModel(model.features, model.mean, model.scale, model.coef, model.intercept, model.threshold, meta)


def write_models(directory: Path, ranker: LinearModel, gate: LinearModel) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in (("ranker", ranker), ("gate", gate)):
        data = model.to_json()
        for key in ("mean", "scale", "coef"):
            data[key] = [round(v, 6) for v in data[key]]
        data["intercept"] = round(data["intercept"], 6)
        (directory / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                                                encoding="utf-8")
