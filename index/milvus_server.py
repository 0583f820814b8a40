"""A local Milvus standalone server for development and tests, from the `milvus` PyPI package (which
bundles the real 2.3.5 binary): `python -m index.milvus_server --data DIR [--port 19530]`.

The package's own launcher needs four corrections, each measured on the project's machine:
- every component listens on all interfaces unless its `ip` is set, so each is bound to 127.0.0.1;
- it probes ports with a plain bind(), which fails while a just-stopped server's ports sit in TIME_WAIT,
  so it silently moves components to other ports and the next start crashes: the probe here sets
  SO_REUSEADDR (as the server's own listeners do);
- its start-up wait hangs 180 s when the server dies early: here the process and /healthz are polled;
- its stop() kills one second after SIGTERM, which leaves stale sessions in the data folder: here all
  collections are released first, then SIGTERM, then a wait for the process to exit.
The server also takes a machine-wide lock (/run/milvus/standalone.pid): one server per host.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
HOST = "127.0.0.1"


def _bind_probe(config):
    """Replace the launcher's port probe by one that accepts ports in TIME_WAIT (SO_REUSEADDR)."""

    def try_bind_port(port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen()
            return sock
        except (OSError, OverflowError, ValueError):
            sock.close()
            return None

    config.try_bind_port = try_bind_port


class LocalMilvus:
    """Start and stop one standalone Milvus with its data in `data_dir`, listening on 127.0.0.1 only."""

    def __init__(self, data_dir: Path | str, port: int | None = None, memory_settings: dict | None = None):
        from milvus import MilvusServer, MilvusServerConfig

        self.data_dir = Path(data_dir)
        config = MilvusServerConfig(data_dir=str(self.data_dir))
        _bind_probe(config)
        for component in COMPONENTS:
            config.set(f"{component}.ip", HOST)
        # Growing segments are otherwise searched through a temporary IVF (nprobe 16 of 128 cells), which
        # loses recall on fresh inserts; the store flushes each commit, and sealed segments get the HNSW.
        config.set("queryNode.segcore.interimIndex.enableIndex", "false")
        for key, value in (memory_settings or {}).items():
            config.set(key, value)
        self.server = MilvusServer(config, wait_for_started=False)
        if port:
            self.server.listen_port = port
        self.port = 0

    @property
    def uri(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 90.0) -> LocalMilvus:
        self.server.start()
        self.port = self.server.listen_port
        health = f"http://{HOST}:{self.server.webservice_port}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.server.server_proc
            if proc is None or proc.poll() is not None:
                log = self.data_dir / "logs" / "milvus-stderr.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.server.server_proc = None
                self.server.stop()
                raise RuntimeError(f"Milvus exited during start-up (see {self.data_dir / 'logs'}):\n{tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as resp:
                if b"OK" in resp.read():
                    return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"Milvus not healthy after {timeout:.0f} s (logs in {self.data_dir / 'logs'})")

    def stop(self, timeout: float = 60.0) -> None:
        proc = self.server.server_proc
        if proc is None:
            return
        if proc.poll() is None:
            self._release_all()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.server.server_proc = None
        self.server.stop()  # closes the log files

    def _release_all(self) -> None:
        with contextlib.suppress(Exception):
            from pymilvus import MilvusClient

            client = MilvusClient(uri=self.uri, timeout=10)
            for name in client.list_collections():
                client.release_collection(name)
            client.close()

    def __enter__(self) -> LocalMilvus:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.milvus_server",
                                     description="Run a local Milvus standalone (127.0.0.1 only) until Ctrl+C.")
    parser.add_argument("--data", type=Path, default=Path.home() / ".article-assistant" / "milvus",
                        help="data folder (default ~/.article-assistant/milvus)")
    parser.add_argument("--port", type=int, default=19530)
    args = parser.parse_args(argv)
    server = LocalMilvus(args.data, args.port).start()
    print(f"Milvus on {HOST}:{server.port} (data in {args.data}); "
          f"use --index milvus://{HOST}:{server.port}/NAME. Ctrl+C stops it.", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop and server.server.server_proc and server.server.server_proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
