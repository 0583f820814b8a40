"""Stop-the-world pauses of Python's cycle collector in the app under load, with and without `gc.freeze()` after
start-up (what `assistant serve` does): the app is built and launched in this process as `assistant serve`
builds it (demo corpus, bundled model), the collector's callbacks time each collection, and 10 clients ask
from a child process (eval/bench_http.py's clients) on the lean path and through Gradio's queue.

    .venv/bin/python -m eval.bench_gc [--freeze] [--clients 10] [--per-client 30] [--out F]

Prints, per path, the load's figures and per generation: collections, total and longest pause (ms)."""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from eval.bench_http import ROOT, free_port

LOAD = """
import json, sys, time
from eval.bench_http import PATHS, QUESTIONS, Connection, run_load
port, path, clients, per_client = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
warm = Connection(port)
for question in questions[:3]:
    PATHS[path](warm, question, 0)
print(json.dumps(run_load(port, path, questions, clients, per_client, time.perf_counter() + 300)))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after start-up, as `assistant serve`")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)

    from assistant.commands import encoder_for
    from assistant.engine import Assistant
    from ui.app import build_app, launch

    assistant = Assistant.load(None, encoder=encoder_for(SimpleNamespace(index=None)))
    app = build_app(assistant)
    port = free_port()
    launch(app, port=port, prevent_thread_lock=True, quiet=True)
    if args.freeze:
        gc.freeze()
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(timed)
    result = {"freeze": args.freeze, "tracked_objects_at_start": len(gc.get_objects())}
    try:
        for path in ("lean", "gradio"):
            for values in pauses.values():
                values.clear()
            done = subprocess.run([sys.executable, "-c", LOAD, str(port), path, str(args.clients),
                                   str(args.per_client)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                                  check=True)
            result[path] = {"load": json.loads(done.stdout.strip().splitlines()[-1]), "collections": {
                f"gen{g}": {"count": len(v), "total_ms": round(1000 * sum(v), 1),
                            "longest_ms": round(1000 * max(v), 1) if v else 0.0} for g, v in pauses.items()}}
    finally:
        gc.callbacks.remove(timed)
        app.close()
        assistant.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
