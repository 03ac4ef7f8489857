"""The learned ranker's and gate's models: logistic regressions shipped as small JSON files
(``resources/ranker.json``, ``resources/gate.json``), written by ``python -m assistant.evaluation.train`` and evaluated
here with numpy. Nothing is trained at run time.

A model file names the features it was fitted on; a file that is missing, malformed or fitted on
other features than the code computes is an error at start (:class:`ModelFileError`), never a
silent fallback to rules: a gate that quietly stopped being the calibrated one would refuse (or
answer) on evidence nobody measured.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["MODELS_DIR", "LinearModel", "ModelFileError", "ensure_models", "load_model", "shipped_models"]

MODELS_DIR = Path(__file__).parent / "resources"


class ModelFileError(RuntimeError):
    """A model file that cannot be used with this code."""


@dataclass(frozen=True)
class LinearModel:
    """A standardised logistic regression: ``logit = ((x − mean) / scale) · coef + intercept``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5  # the gate's: answer at or above this probability
    meta: dict = field(default_factory=dict)

    def logits(self, X: np.ndarray) -> np.ndarray:
        """One logit per row of ``X`` (columns in :attr:`features` order)."""
        X = np.atleast_2d(X)
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(X)))

    def contributions(self, x: np.ndarray, n: int = 5) -> dict[str, float]:
        """The ``n`` features that moved this row's logit most, with their signed share."""
        parts = (np.asarray(x) - self.mean) / self.scale * self.coef
        order = np.argsort(-np.abs(parts))[:n]
        return {self.features[i]: round(float(parts[i]), 3) for i in order}

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "threshold": self.threshold,
                "meta": self.meta}


def load_model(path: Path, features: Sequence[str]) -> LinearModel:
    """The model of ``path``, checked against the ``features`` the code computes."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        model = LinearModel(tuple(data["features"]), np.asarray(data["mean"], float),
                            np.asarray(data["scale"], float), np.asarray(data["coef"], float),
                            float(data["intercept"]), float(data.get("threshold", 0.5)), data.get("meta", {}))
    except FileNotFoundError as exc:
        raise ModelFileError(f"模型文件缺失 / model file missing: {path} (run `python -m assistant.evaluation.train`)") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"模型文件无法读取 / unreadable model file {path}: {exc}") from exc
    if model.features != tuple(features):
        raise ModelFileError(
            f"模型与代码的特征不一致 / {path} was fitted on other features than the code computes: "
            f"file {list(model.features)} vs code {list(features)} (run `python -m assistant.evaluation.train`)")
    if not len(model.mean) == len(model.scale) == len(model.coef) == len(features):
        raise ModelFileError(f"模型文件维度错误 / {path}: {len(features)} features but "
                             f"{len(model.mean)}/{len(model.scale)}/{len(model.coef)} parameters")
    return model


@functools.cache
def shipped_models(directory: Path = MODELS_DIR) -> tuple[LinearModel, LinearModel]:
    """(ranker, gate) as shipped in the package, loaded once."""
    from assistant.retrieval.features import CANDIDATE_FEATURES, GATE_FEATURES

    return (load_model(directory / "ranker.json", CANDIDATE_FEATURES),
            load_model(directory / "gate.json", GATE_FEATURES))


def ensure_models(directory: Path = MODELS_DIR, say=print) -> None:
    """Training's bootstrap: when the files of ``directory`` cannot be used (first training, or the
    code's features changed), write neutral models (every weight 0: the fused order, and answer
    everything) so that the app starts and training can observe it. Training overwrites them."""
    from assistant.retrieval.features import CANDIDATE_FEATURES, GATE_FEATURES

    try:
        load_model(directory / "ranker.json", CANDIDATE_FEATURES)
        load_model(directory / "gate.json", GATE_FEATURES)
        return
    except ModelFileError as exc:
        say(f"写入中性模型 / writing neutral models first: {exc}")
    directory.mkdir(parents=True, exist_ok=True)
    for name, features in (("ranker", CANDIDATE_FEATURES), ("gate", GATE_FEATURES)):
        n = len(features)
        neutral = LinearModel(tuple(features), np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.0,
                              {"neutral": True})
        (directory / f"{name}.json").write_text(json.dumps(neutral.to_json(), indent=1), encoding="utf-8")
    shipped_models.cache_clear()
