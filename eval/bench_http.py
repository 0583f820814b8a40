"""Answer time over HTTP against a launched app: one client, then 10 concurrent clients, on each path an API
client can take (--paths): Gradio's queue as ui/API.md's plain HTTP calls it (two requests a question, a new
Gradio session each), the same within one session per client (as gradio_client does), and the lean
POST /api/v1/ask (one request). Each client keeps its connection alive. Also the server's CPU time per
question, the machine's load average before each run, and the time from `assistant serve` to a usable page.

    .venv/bin/python -m eval.bench_http [--checkout DIR] [--paths gradio gradio_session lean] [--engine-alone]
                                        [--questions 100] [--clients 10] [--per-client 40] [--fresh-home] [--out F]

--checkout runs the app of another checkout (e.g. an older commit unpacked with `git archive`) for a
before/after comparison (`--paths gradio gradio_session` there: it has no /api/v1/ask); the demo corpus with
the bundled model, as `assistant serve` serves it by default. Bounded: at most --questions + clients ×
per-client questions per path, and --max-seconds of load per path. 127.0.0.1 only."""

from __future__ import annotations

import argparse
import http.client
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

from eval.report import emit_json

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "data" / "demo_questions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(checkout: Path, port: int, home: Path) -> tuple[subprocess.Popen, float, float]:
    """Start `assistant serve` from the checkout; returns (process, seconds to any HTTP answer, seconds to
    the app's own page)."""
    path = os.pathsep.join(p for p in (str(checkout), os.environ.get("PYTHONPATH", "")) if p)
    env = os.environ | {"ARTICLE_ASSISTANT_HOME": str(home), "PYTHONPATH": path}
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


class Connection:
    """One client's kept-alive HTTP connection (as an API client would hold one); cheap on the client side, so
    that the client threads take little of the CPU the server needs on the same machine."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed a kept-alive connection before this request: once more
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300].decode(errors='replace')}")
        return payload


def ask_gradio(conn: Connection, question: str, session: str | None = None) -> int:
    """One /ask through Gradio's queue: POST the call, then GET its event stream (ui/API.md, plain HTTP).
    Without `session`: by name (v2), a new Gradio session per call; with it: positional (v1) in that session,
    as gradio_client does. Returns the bytes of the result."""
    if session is None:
        event = json.loads(conn.call("POST", "/gradio_api/call/v2/ask", {"question": question}))["event_id"]
    else:
        body = {"data": [question, None, None, None, None, 5, "hybrid", 3, None, True, 2, False],
                "session_hash": session}
        event = json.loads(conn.call("POST", "/gradio_api/call/ask", body))["event_id"]
    stream = conn.call("GET", f"/gradio_api/call/ask/{event}")
    if b"event: complete" not in stream:
        raise RuntimeError(stream[:300].decode(errors="replace"))
    return len(stream)


def ask_lean(conn: Connection, question: str) -> int:
    """One POST /api/v1/ask: the answer in the response."""
    payload = conn.call("POST", "/api/v1/ask", {"question": question})
    if b'"sentences"' not in payload:
        raise RuntimeError(payload[:300].decode(errors="replace"))
    return len(payload)


PATHS = {
    "gradio": lambda conn, q, client: ask_gradio(conn, q),
    "gradio_session": lambda conn, q, client: ask_gradio(conn, q, session=f"bench-{client}"),
    "lean": lambda conn, q, client: ask_lean(conn, q),
}


def summary(times: list[float], sizes: list[int], errors: int, wall: float) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else None
    return {"questions": len(times), "errors": errors, "median_ms": round(1000 * statistics.median(times), 1)
            if times else None, "p95_ms": round(1000 * p95, 1) if p95 is not None else None,
            "mean_kb": round(statistics.mean(sizes) / 1024, 1) if sizes else None,
            "throughput_qps": round(len(times) / wall, 1) if wall else None}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MB."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return round(int(line.split()[1]) / 1024, 1)


def run_load(port: int, path: str, questions: list[str], clients: int, per_client: int, deadline: float,
             server_pid: int | None = None) -> dict:
    times, sizes, errors, lock = [], [], [0], threading.Lock()
    asking = PATHS[path]

    def client(number: int) -> None:
        conn, offset = Connection(port), number * 7
        for i in range(per_client):
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                size = asking(conn, questions[(offset + i) % len(questions)], number)
            except Exception:  # noqa: BLE001 - counted
                with lock:
                    errors[0] += 1
                continue
            with lock:
                times.append(time.perf_counter() - started)
                sizes.append(size)

    load = os.getloadavg()[0]
    cpu = cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = summary(times, sizes, errors[0], time.perf_counter() - started)
    if cpu is not None and times:
        result["server_cpu_ms_per_question"] = round(1000 * (cpu_seconds(server_pid) - cpu) / len(times), 1)
        result["server_rss_mb_after"] = rss_mb(server_pid)
    result["load_average_before"] = round(load, 2)
    return result


def engine_alone(checkout: Path, home: Path, questions: list[str], count: int) -> dict:
    """The same questions asked without HTTP: the engine's own CPU per question (its ONNX threads included),
    the floor any HTTP path adds to; the checkout's engine, in a child process."""
    code = f"""
import json, statistics, sys, time
from dataclasses import replace
from types import SimpleNamespace
from assistant.commands import encoder_for
from assistant.engine import Assistant
questions = json.loads(sys.stdin.read())
engine = Assistant.load(None, encoder=encoder_for(SimpleNamespace(index=None)))
def ask(question):  # the answer and its JSON as the endpoints build it (the shown passages only)
    return replace(engine.ask(question), passages=()).to_dict()
for q in questions[:3]:
    ask(q)
cpu = []
for i in range({count}):
    started = time.process_time()
    ask(questions[i % len(questions)])
    cpu.append(time.process_time() - started)
print(json.dumps({{"questions": len(cpu), "cpu_ms_median": round(1000 * statistics.median(cpu), 1),
                  "cpu_ms_mean": round(1000 * statistics.mean(cpu), 1)}}))
"""
    path = os.pathsep.join(p for p in (str(checkout), os.environ.get("PYTHONPATH", "")) if p)
    env = os.environ | {"ARTICLE_ASSISTANT_HOME": str(home), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(questions), capture_output=True, text=True,
                          cwd=checkout, env=env, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--questions", type=int, default=100, help="single-client questions")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="load per path, at most")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS),
                        help="gradio: Gradio's queue by name, a session per call (ui/API.md, plain HTTP); "
                             "gradio_session: the same in one session per client (as gradio_client); "
                             "lean: POST /api/v1/ask (default: all three)")
    parser.add_argument("--fresh-home", action="store_true",
                        help="start with an empty cache (first run: model preparation and the demo index)")
    parser.add_argument("--home", type=Path, default=None, help="cache folder (default: a temporary one, warmed)")
    parser.add_argument("--engine-alone", action="store_true",
                        help="also ask the questions without HTTP (the checkout's engine): its CPU per question")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-http-home-"))
    result: dict = {"checkout": str(args.checkout)}
    if not args.fresh_home:  # warm the cache first, so that the timed start is a warm restart
        process, _, _ = launch(args.checkout, free_port(), home)
        process.terminate()
        process.wait(30)
    if args.engine_alone:
        result["engine_alone"] = engine_alone(args.checkout, home, questions, args.questions)
    port = free_port()
    process, first, usable = launch(args.checkout, port, home)
    result["start"] = {"first_http_answer_s": round(first, 1), "usable_page_s": round(usable, 1),
                       "cache": "empty (first run)" if args.fresh_home else "warm"}
    try:
        for path in args.paths:
            warm = Connection(port)
            for question in questions[:3]:  # the first questions load lazily built parts
                PATHS[path](warm, question, 0)
            deadline = time.perf_counter() + args.max_seconds
            result[path] = {
                "single_client": run_load(port, path, questions, 1, args.questions, deadline, process.pid),
                f"{args.clients}_clients": run_load(port, path, questions, args.clients, args.per_client, deadline,
                                                    process.pid)}
    finally:
        process.terminate()
        process.wait(30)
    emit_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
