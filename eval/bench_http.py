"""Answer time over HTTP against a launched app: one client, then 10 concurrent clients, each question the
two plain-HTTP requests of ui/API.md (queue the call, read its result) to /ask on 127.0.0.1. Also the time
from `assistant serve` to a usable page (and to the first page of any kind).

    .venv/bin/python -m eval.bench_http [--checkout DIR] [--questions 100] [--clients 10] [--per-client 40]
                                        [--fresh-home] [--out results.json]

--checkout runs the app of another checkout (e.g. a `git worktree` of an older commit) for a before/after
comparison; the demo corpus with the bundled model, as `assistant serve` serves it by default. Bounded:
at most --questions + clients × per-client questions, and --max-seconds of load in all. 127.0.0.1 only."""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "data" / "demo_questions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(checkout: Path, port: int, home: Path) -> tuple[subprocess.Popen, float, float]:
    """Start `assistant serve` from the checkout; returns (process, seconds to any HTTP answer, seconds to
    the app's own page)."""
    env = os.environ | {"ARTICLE_ASSISTANT_HOME": str(home), "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], cwd=checkout,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while time.perf_counter() - started < 600:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited: {process.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                body = response.read().decode(errors="replace")
            first = first or time.perf_counter() - started
            if "gradio" in body.lower():
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=5):
                    return process, first, time.perf_counter() - started
        except urllib.error.HTTPError:
            first = first or time.perf_counter() - started  # the start-up page (503) counts as an answer
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    process.kill()
    raise RuntimeError("the app did not come up within 600 s")


def ask(port: int, question: str) -> tuple[float, int]:
    """One /ask over plain HTTP by name: (seconds, bytes of the result)."""
    started = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/gradio_api/call/v2/ask",
                                     data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/call/ask/{event}", timeout=60) as response:
        stream = response.read()
    if b"event: complete" not in stream:
        raise RuntimeError(stream[:300].decode(errors="replace"))
    return time.perf_counter() - started, len(stream)


def summary(times: list[float], sizes: list[int], errors: int, wall: float) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else None
    return {"questions": len(times), "errors": errors, "median_ms": round(1000 * statistics.median(times), 1)
            if times else None, "p95_ms": round(1000 * p95, 1) if p95 is not None else None,
            "mean_kb": round(statistics.mean(sizes) / 1024, 1) if sizes else None,
            "throughput_qps": round(len(times) / wall, 1) if wall else None}


def run_load(port: int, questions: list[str], clients: int, per_client: int, deadline: float) -> dict:
    times, sizes, errors, lock = [], [], [0], threading.Lock()

    def client(offset: int) -> None:
        for i in range(per_client):
            if time.perf_counter() > deadline:
                return
            try:
                seconds, size = ask(port, questions[(offset + i) % len(questions)])
            except Exception:  # noqa: BLE001 - counted
                with lock:
                    errors[0] += 1
                continue
            with lock:
                times.append(seconds)
                sizes.append(size)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c * 7,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(times, sizes, errors[0], time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--questions", type=int, default=100, help="single-client questions")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--fresh-home", action="store_true",
                        help="start with an empty cache (first run: model preparation and the demo index)")
    parser.add_argument("--home", type=Path, default=None, help="cache folder (default: a temporary one, warmed)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-http-home-"))
    result: dict = {"checkout": str(args.checkout)}
    if not args.fresh_home:  # warm the cache first, so that the timed start is a warm restart
        process, _, _ = launch(args.checkout, free_port(), home)
        process.terminate()
        process.wait(30)
    port = free_port()
    process, first, usable = launch(args.checkout, port, home)
    result["start"] = {"first_http_answer_s": round(first, 1), "usable_page_s": round(usable, 1),
                       "cache": "empty (first run)" if args.fresh_home else "warm"}
    try:
        ask(port, questions[0])  # the first question loads lazily built parts
        deadline = time.perf_counter() + args.max_seconds
        result["single_client"] = run_load(port, questions, 1, args.questions, deadline)
        result[f"{args.clients}_clients"] = run_load(port, questions, args.clients, args.per_client, deadline)
    finally:
        process.terminate()
        process.wait(30)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
