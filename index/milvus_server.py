"""A local Milvus standalone server for development and tests, from the `milvus` PyPI package (which
bundles the real 2.3.5 binary): `python -m index.milvus_server --data DIR [--port 19530]`.

The package's own launcher needs four corrections, each measured on the project's machine:
- each component advertises (in etcd) the address its `ip` names, set here to 127.0.0.1;
- it probes ports with a plain bind(), which fails while a just-stopped server's ports sit in TIME_WAIT,
  so it silently moves components to other ports and the next start crashes: the probe here sets
  SO_REUSEADDR (as the server's own listeners do);
- its start-up wait hangs 180 s when the server dies early: here the process and /healthz are polled;
- its stop() kills one second after SIGTERM, which leaves stale sessions in the data folder: here all
  collections are released first, then SIGTERM, then a wait for the process to exit.
The server also takes a machine-wide lock (/run/milvus/standalone.pid): one server per host.

What no setting of 2.3.5 binds to loopback (measured with `ss -ltnp`; `listening_sockets` reads the same
from /proc): the embedded etcd (2379, 2380) listens on 127.0.0.1, but the Go servers call
net.Listen("tcp", ":PORT"), so the proxy (gRPC and REST, 19530), the proxy's internal port (19529),
rootCoord, queryCoord, queryNode, indexNode, dataCoord and dataNode (their gRPC ports) and the
management HTTP server (metrics and /healthz, METRICS_PORT 9091, logged as "management listen
addr=:9091") listen on every interface. `ip` only sets the advertised address; milvus.yaml has no
listen-address key in 2.3. `LocalMilvus.exposed()` lists these sockets and the CLI prints them: on a
host reachable from others, firewall those ports (or run the server in a container or network namespace).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
# The launcher's port settings whose servers 2.3.5 binds to every interface, and the management HTTP port
ALL_INTERFACES = ("proxy_port", "proxy_internal_port", "root_coord_port", "query_coord_port", "query_node_port",
                  "index_node_port", "data_coord_port", "data_node_port", "webservice_port")
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


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on, read from /proc (Linux only)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return sorted(found)


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def _dying_with_this_process():
    """Start the launcher's server so that it gets SIGTERM when this process ends, however it ends: a test
    run killed or crashed mid-session otherwise leaves the server running with the host's one Milvus lock,
    and the next start on this machine fails."""
    import milvus

    original = milvus.subprocess.Popen
    if sys.platform.startswith("linux"):
        milvus.subprocess.Popen = functools.partial(original, preexec_fn=_die_with_parent)
    try:
        yield
    finally:
        milvus.subprocess.Popen = original


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
        with _dying_with_this_process():
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

    def ports(self) -> dict[str, int]:
        """The ports this server was started with, by the launcher's setting names (etcd_port, proxy_port,
        ...) and webservice_port (metrics and /healthz)."""
        items = self.server.config.configurable_items
        ports = {key: int(value[1]) for key, value in items.items() if key.endswith("_port") and value[1]}
        return {**ports, "webservice_port": int(self.server.webservice_port)}

    def exposed(self) -> list[tuple[str, int]]:
        """The server's listening sockets that are not on loopback (see the module's note)."""
        proc = self.server.server_proc
        if proc is None or proc.poll() is not None:
            return []
        return [(a, p) for a, p in listening_sockets(proc.pid) if not is_loopback(a)]

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
    exposed = sorted({port for _, port in server.exposed()})
    if exposed:
        print(f"note: Milvus 2.3 listens on all interfaces on ports {', '.join(map(str, exposed))} (no setting "
              "binds them to 127.0.0.1); firewall them on a shared network.", file=sys.stderr, flush=True)
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
