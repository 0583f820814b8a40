"""The two small fitted models behind an answer, read from assistant/models/answer_model.json.

- `sentence`: P(this candidate sentence is the evidence for the question), logistic regression over
  evidence.SENTENCE_FEATURES. It orders the candidates.
- `support`: P(the articles answer the question at all), logistic regression over
  evidence.QUESTION_FEATURES. Below `support_threshold` the engine abstains.
Both are fit by eval/fit_answers.py on dev splits only (the file records which); applying them is a
dot product, so answering needs no scikit-learn."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.evidence import QUESTION_FEATURES, SENTENCE_FEATURES
from assistant.summarize import REPEAT_FEATURES

MODEL_PATH = Path(__file__).parent / "models" / "answer_model.json"
REPEAT_MODEL_PATH = Path(__file__).parent / "models" / "repeat_model.json"
FORMAT = 1


class ModelFileError(Exception):
    """The answer model file is missing or does not match this version's features."""


@dataclass(frozen=True)
class Logistic:
    """Standardised features → sigmoid(w·x + b)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_dict(self) -> dict:
        return {"features": list(self.names), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...], where: Path,
                  fit_with: str = "eval.fit_answers") -> Logistic:
        names = tuple(data["features"])
        if names != expected:
            raise ModelFileError(f"{where}: fit with features {list(names)}, this version computes "
                                 f"{list(expected)}; refit with 'python -m {fit_with}'")
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef")]
        if any(a.shape != (len(names),) for a in arrays):
            raise ModelFileError(f"{where}: weights do not match the feature count")
        return cls(names, *arrays, float(data["intercept"]))


@dataclass(frozen=True)
class AnswerModel:
    sentence: Logistic
    support: Logistic
    support_threshold: float  # abstain below this P(supported); chosen for <= 5% false abstention on dev
    min_relative: float  # a further answer sentence needs at least this share of the best one's probability
    min_probability: float  # ... and at least this probability
    min_relative_other: float  # the share needed by a sentence of another article than the best one's
    fitted_on: str = ""  # what data, which split

    def to_dict(self) -> dict:
        return {"format": FORMAT, "fitted_on": self.fitted_on, "support_threshold": self.support_threshold,
                "min_relative": self.min_relative, "min_probability": self.min_probability,
                "min_relative_other": self.min_relative_other,
                "sentence": self.sentence.to_dict(), "support": self.support.to_dict()}

    def save(self, path: Path = MODEL_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")


def _read_model_file(path: Path, what: str, fit_with: str) -> dict:
    """The JSON of a fitted model file, or a one-line ModelFileError naming it and the way out."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no {what} model; fit one with 'python -m {fit_with}'") from None
    except ValueError as err:
        raise ModelFileError(f"{path}: unreadable {what} model ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ModelFileError(f"{path}: {what} model format {found}, this version reads {FORMAT}")
    return data


def read_model(path: Path) -> AnswerModel:
    data = _read_model_file(path, "answer", "eval.fit_answers")
    values = [data[k] for k in ("support_threshold", "min_relative", "min_probability", "min_relative_other")]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise ModelFileError(f"{path}: thresholds must be numbers")
    return AnswerModel(Logistic.from_dict(data["sentence"], SENTENCE_FEATURES, path),
                       Logistic.from_dict(data["support"], QUESTION_FEATURES, path), *map(float, values),
                       fitted_on=str(data.get("fitted_on", "")))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AnswerModel:
    return read_model(path)


@dataclass(frozen=True)
class RepeatModel:
    """The pair screen of summarize.choose: P(two close answer sentences state one fact) over
    summarize.REPEAT_FEATURES; a pair below `skip_below` is taken as two facts without fresh embeddings.
    Fit by eval/fit_redundancy.py on dev splits (the file records which)."""

    pair: Logistic
    skip_below: float
    fitted_on: str = ""

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.pair.predict(rows)

    def save(self, path: Path = REPEAT_MODEL_PATH) -> None:
        data = {"format": FORMAT, "fitted_on": self.fitted_on, "skip_below": self.skip_below,
                "pair": self.pair.to_dict()}
        path.write_text(json.dumps(data, indent=1) + "\n")


def read_repeat_model(path: Path) -> RepeatModel:
    data = _read_model_file(path, "repeat", "eval.fit_redundancy")
    skip = data.get("skip_below")
    if not isinstance(skip, (int, float)) or not 0.0 <= skip <= 1.0:
        raise ModelFileError(f"{path}: skip_below must be a probability")
    return RepeatModel(Logistic.from_dict(data["pair"], REPEAT_FEATURES, path, "eval.fit_redundancy"), float(skip),
                       str(data.get("fitted_on", "")))


@lru_cache(maxsize=4)
def load_repeat_model(path: Path = REPEAT_MODEL_PATH) -> RepeatModel:
    return read_repeat_model(path)
