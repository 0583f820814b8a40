"""One writer per NAME across processes and machines: a lease row ("writer") in the NAME_meta collection,
holding the owner's id (host, pid, a random part) and an expiry, renewed by a thread while the owner writes.

Milvus 2.3 has no conditional write, so taking the lease is: read it (Strong consistency); if nobody else
holds an unexpired one, write ours, wait SETTLE_SECONDS, read again, and go ahead only if it is still
ours. Two writers that both read "free" both write; whichever wrote last wins and the other sees that on
its second read and steps back. This holds while the gap between one's read and write is shorter than
SETTLE_SECONDS (milliseconds on a network, against half a second), and while the machines' clocks agree
to within a few seconds (the expiry is wall-clock time). A writer that stalls past its expiry loses the
lease to the next one and finds out at its commit point (`check`), which it then refuses.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from index.store import IndexBusy

LEASE_SECONDS = 30.0  # a crashed writer blocks others this long at most
SETTLE_SECONDS = 0.5
KEY = "writer"


class WriterLease:
    """Take with `acquire`, keep with the renewing thread, give back with `release`."""

    def __init__(self, meta: Callable, location: str, owner: str | None = None):
        self._meta, self.location = meta, location
        self.owner = owner or f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:6]})"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    def holder(self) -> dict | None:
        """The lease as stored ({"owner", "expires"}), or None when nobody holds one."""
        rows = self._meta().query(f'key == "{KEY}"', output_fields=["value"], consistency_level="Strong")
        return json.loads(rows[0]["value"]) if rows else None

    def _write(self) -> None:
        value = json.dumps({"owner": self.owner, "expires": time.time() + LEASE_SECONDS})
        self._meta().upsert([{"key": KEY, "value": value, "dummy": [1.0, 0.0]}])

    def acquire(self, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> None:
        told = False
        while True:
            held = self.holder()
            if held and held["owner"] != self.owner and held["expires"] > time.time():
                until = datetime.fromtimestamp(held["expires"], timezone.utc).strftime("%H:%M:%S UTC")
                message = (f"{self.location}: another writer ({held['owner']}) holds this index's writer lease "
                           f"(until {until}, renewed while it writes)")
                if not wait:
                    raise IndexBusy(f"{message}; try again when it has finished (or without --no-wait to wait)")
                if not told:
                    (on_wait or _stderr)(f"waiting: {message}")
                    told = True
                time.sleep(min(1.0, max(0.05, held["expires"] - time.time())))
                continue
            self._write()
            time.sleep(SETTLE_SECONDS)
            held = self.holder()
            if held and held["owner"] == self.owner:
                break
        self.lost = False
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="milvus-writer-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 3):
            try:
                held = self.holder()
                if not held or held["owner"] != self.owner:
                    self.lost = True
                    return
                self._write()
            except Exception:  # noqa: BLE001 - a server hiccup: try again at the next tick; check() decides
                continue

    def check(self) -> None:
        """Raise IndexBusy unless this writer still holds the lease (called before the commit point)."""
        held = self.holder()
        if self.lost or not held or held["owner"] != self.owner or held["expires"] <= time.time():
            self.lost = True
            raise IndexBusy(f"{self.location}: this writer lost the writer lease (it stalled over "
                            f"{LEASE_SECONDS:.0f} s and another writer took over); nothing was committed, "
                            "run the ingest or removal again")

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=LEASE_SECONDS)
            self._renewer = None
        held = self.holder()
        if held and held["owner"] == self.owner:
            self._meta().delete(f'key in ["{KEY}"]')


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
