"""Evaluation results → files a person reads (report.md, recall_curve.png) and tools read (JSON, TREC runs).

TREC run files let any result be re-scored with trec_eval / ir-measures, independent of this code.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.metrics import CUTOFFS, METRIC_NAMES, Run

LOWER_IS_BETTER = re.compile(r"latency|_ms$|_s$|seconds")


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by write_report."""

    folder: Path
    metrics_json: Path
    report_md: Path
    recall_curve: Path | None  # None when no configuration has Recall@k figures
    runs: tuple[Path, ...]
    per_question: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        extra = (self.recall_curve,) if self.recall_curve else ()
        return (self.metrics_json, self.report_md, *extra, *self.runs, *self.per_question)


def write_report(folder: Path | str, results: Mapping[str, Mapping[str, float]],
                 per_question: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
                 runs: Mapping[str, Run] | None = None, title: str = "Retrieval evaluation",
                 notes: Sequence[str] = ()) -> ReportFiles:
    """Write metrics.json, report.md, recall_curve.png, run-<config>.trec and per_question-<config>.jsonl.

    `results` maps configuration name → {metric: value}; `per_question` and `runs` are keyed the same way.
    """
    folder = Path(folder)
    for configs in (results, per_question or {}, runs or {}):
        names = [safe_name(c) for c in configs]
        if len(set(names)) != len(names):
            raise ValueError(f"configuration names collide as file names: {', '.join(configs)}")
    folder.mkdir(parents=True, exist_ok=True)
    metrics_json = folder / "metrics.json"
    metrics_json.write_text(json.dumps(_jsonable(results), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    report_md = folder / "report.md"
    report_md.write_text(markdown_report(results, title, notes), encoding="utf-8")
    curve = plot_recall_curve(results, folder / "recall_curve.png")
    run_paths = tuple(write_trec_run(run, folder / f"run-{safe_name(config)}.trec", tag=safe_name(config))
                      for config, run in (runs or {}).items())
    row_paths = []
    for config, rows in (per_question or {}).items():
        path = folder / f"per_question-{safe_name(config)}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(_jsonable(row), ensure_ascii=False, default=str) + "\n")
        row_paths.append(path)
    return ReportFiles(folder, metrics_json, report_md, curve, run_paths, tuple(row_paths))


def write_rows(out: Path, metrics: Mapping, rows: Sequence, rows_name: str) -> Path:
    """metrics.json and one JSON line per result row (dataclasses) in `out`; the metrics file's path."""
    from dataclasses import asdict

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    with (out / rows_name).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
    return out / "metrics.json"


def write_json(path: Path, result) -> Path:
    """A benchmark's figures as indented JSON (dates and paths as text), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def emit_json(result, path: Path | None = None) -> None:
    """A benchmark's figures printed, and written to `path` when one is given."""
    print(json.dumps(result, indent=2, default=str))
    if path is not None:
        write_json(path, result)


def markdown_report(results: Mapping[str, Mapping[str, float]], title: str = "Retrieval evaluation",
                    notes: Sequence[str] = ()) -> str:
    """Metrics as rows, configurations as columns (few configurations, many metrics); best value in bold."""
    configs = list(results)
    metrics = _metric_order(results)
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes]
    if notes:
        lines.append("")
    lines.append("| metric | " + " | ".join(_cell(c) for c in configs) + " |")
    lines.append("|---|" + "---:|" * len(configs))
    for metric in metrics:
        values = [results[c].get(metric) for c in configs]
        best = _best(metric, values) if len(configs) > 1 else None
        digits = 1 if LOWER_IS_BETTER.search(metric) else 3
        cells = [_format(v, digits, bold=(v is not None and v == best)) for v in values]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def plot_recall_curve(results: Mapping[str, Mapping[str, float]], path: Path) -> Path | None:
    """Recall@k over k per configuration; None (nothing written) when no configuration has recall figures."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, safe beside a running UI

    curves = {config: [(k, m[f"recall@{k}"]) for k in CUTOFFS if _number(m.get(f"recall@{k}"))]
              for config, m in results.items()}
    curves = {config: points for config, points in curves.items() if points}
    if not curves:
        return None
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for config, points in curves.items():
        ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=config)
    ax.set_xscale("log")
    ax.set_xticks(list(CUTOFFS), labels=[str(k) for k in CUTOFFS])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k (articles retrieved)")
    ax.set_ylabel("Recall@k")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def write_trec_run(run: Run, path: Path, tag: str = "run") -> Path:
    """`qid Q0 docid rank score tag` lines in the run's own order (rank from 1).

    Scores are written as the engine gave them; trec_eval re-sorts by score and breaks ties by
    document id (descending), so tied scores may be re-ordered when re-scored elsewhere.
    """
    tag = safe_name(tag)
    with path.open("w", encoding="utf-8") as handle:
        for qid, ranked in run.items():
            for position, (doc, score) in enumerate(ranked, start=1):
                if re.search(r"\s", f"{qid}{doc}"):
                    raise ValueError(f"TREC run ids cannot contain whitespace: {qid!r} / {doc!r}")
                handle.write(f"{qid} Q0 {doc} {position} {float(score):.6f} {tag}\n")
    return path


def safe_name(name: str) -> str:
    """A configuration name usable in a file name and as a TREC run tag."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "run"


def _metric_order(results: Mapping[str, Mapping[str, float]]) -> list[str]:
    seen = list(dict.fromkeys(m for metrics in results.values() for m in metrics))
    return [m for m in METRIC_NAMES if m in seen] + [m for m in seen if m not in METRIC_NAMES]


def _best(metric: str, values: Sequence[object]) -> float | None:
    numbers = [float(v) for v in values if _number(v)]
    if not numbers or len(set(numbers)) == 1:
        return None
    return min(numbers) if LOWER_IS_BETTER.search(metric) else max(numbers)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _format(value: object, digits: int = 3, bold: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):  # bool included
        text = str(value)
    elif isinstance(value, float):
        text = "–" if math.isnan(value) else f"{value:.{digits}f}"
    else:
        text = _cell(str(value))
    return f"**{text}**" if bold else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _jsonable(value):
    """NaN/inf become null: strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
