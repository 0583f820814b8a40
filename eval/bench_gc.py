"""Stop-the-world pauses of Python's cycle collector in `assistant serve` under load, with its `gc.freeze()`
after start-up and without it (--no-freeze turns that call into nothing): the server runs in a child process
with the collector's callbacks timing every collection; 10 clients (eval/bench_http.py's) ask on the lean path,
then through Gradio's queue (a session per call). Demo corpus, bundled model, 127.0.0.1 only.

    .venv/bin/python -m eval.bench_gc [--no-freeze] [--clients 10] [--per-client 30] [--home DIR] [--out F]

Prints, per path, the load's figures and per generation: collections, total and longest pause (ms)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench_http import PATHS, QUESTIONS, ROOT, Connection, free_port, run_load
from eval.report import emit_json

SERVER = """
import gc, json, signal, sys, time
port, report, freeze = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
pauses, started = {0: [], 1: [], 2: []}, [0.0]

def timed(phase, info):
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        pauses[info["generation"]].append(time.perf_counter() - started[0])

def write(*_):
    figures = {f"gen{g}": {"count": len(v), "total_ms": round(1000 * sum(v), 1),
                           "longest_ms": round(1000 * max(v), 1) if v else 0.0} for g, v in pauses.items()}
    figures["tracked_objects"] = len(gc.get_objects())
    with open(report, "w") as f:
        json.dump(figures, f)
    for v in pauses.values():
        v.clear()

if not freeze:
    gc.freeze = lambda: None
gc.callbacks.append(timed)
signal.signal(signal.SIGUSR1, write)
from assistant.cli import main
sys.exit(main(["serve", "--port", port]))
"""


def report(process: subprocess.Popen, path: Path) -> dict:
    path.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.1)
    raise RuntimeError("the server did not report its collections")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-freeze", action="store_true", help="as before: no gc.freeze() after start-up")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=30)
    parser.add_argument("--home", type=Path, default=None, help="cache folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-gc-home-"))
    figures = home / "gc-report.json"
    port = free_port()
    env = os.environ | {"ARTICLE_ASSISTANT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(figures), "0" if args.no_freeze else "1"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    result: dict = {"freeze": not args.no_freeze}
    try:
        deadline = time.perf_counter() + 600
        while True:  # the app is up when Gradio answers /gradio_api/info (the starting page answers 503)
            if process.poll() is not None:
                raise RuntimeError(f"the app exited: {process.stderr.read()[-2000:]}")
            try:
                Connection(port).call("GET", "/gradio_api/info")
                break
            except (OSError, RuntimeError):
                if time.perf_counter() > deadline:
                    raise
                time.sleep(0.5)
        result["at_start"] = report(process, figures)
        for path in ("lean", "gradio"):
            warm = Connection(port)
            for question in questions[:3]:
                PATHS[path](warm, question, 0)
            report(process, figures)  # from here on
            load = run_load(port, path, questions, args.clients, args.per_client, time.perf_counter() + 300,
                            process.pid)
            result[path] = {"load": load, "collections": report(process, figures)}
    finally:
        process.terminate()
        process.wait(30)
    emit_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
