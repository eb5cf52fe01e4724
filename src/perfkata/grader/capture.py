"""A worker's stderr (the learner's prints, faulthandler's dumps) captured with bounded
memory: the first HEAD bytes and the last TAIL bytes are kept, the rest counted and
dropped. A solution printing in a loop once filled a 1.46 GB file that the parent then
read whole (RSS 2.8 GB) and turned a 15 s timeout into 48 s; drained by a thread as it
comes, the flood never blocks the worker nor grows the parent."""

from __future__ import annotations

import os
import re
import threading
from typing import IO

HEAD = 64 * 1024
TAIL = 256 * 1024
_SIZE = re.compile(rb"perfkata: working at N=(\d+)\n")


class BoundedCapture:
    def __init__(self, stream: IO[bytes], head: int = HEAD, tail: int = TAIL) -> None:
        self._stream, self._head_limit, self._tail_limit = stream, head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0
        self.last_size: str | None = None  # the last "working at N=" line, even if dropped
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        fd = self._stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        with self._lock:
            sizes = _SIZE.findall(chunk)
            if sizes:
                self.last_size = sizes[-1].decode()
            room = self._head_limit - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            self._tail += chunk
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        """Head, a line saying how much was dropped (if any), and tail."""
        with self._lock:
            middle = (
                f"\n[… {self.dropped:,} bytes of output dropped …]\n".encode()
                if self.dropped
                else b""
            )
            return bytes(self._head + middle + self._tail).decode("utf-8", "replace")

    def settle(self, wait: float = 2.0) -> None:
        """After the process is killed: take what is still in the pipe. Bounded, since a
        process of the kata's that escaped the group could hold the pipe open."""
        self._thread.join(wait)

    def close(self) -> None:
        self.settle()
        self._stream.close()
