"""The pool's side of the worker socket: pickled tuples framed as `multiprocessing.connection.Connection`
frames them (a 4-byte big-endian length, or -1 and an 8-byte length beyond 2 GiB), so the worker keeps
using a plain `Connection`. The pool reads without blocking, on the event loop, as bytes arrive."""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any

SHORT = struct.Struct("!i")
LONG = struct.Struct("!Q")
READ_SIZE = 256 * 1024


def frame(msg: Any) -> bytes:
    """One message as the worker's Connection.recv() expects it."""
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > 0x7FFFFFFF:
        return SHORT.pack(-1) + LONG.pack(len(data)) + data
    return SHORT.pack(len(data)) + data


class MessageReader:
    """Reassembles whole messages from whatever a non-blocking read returned (a message may arrive in
    pieces, several may arrive at once)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed = False

    def feed(self, sock: socket.socket) -> list[Any]:
        """The messages complete after reading all `sock` holds now (without waiting); `closed` once the
        other end has gone."""
        while not self.closed:
            try:
                chunk = sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            self.buffer += chunk
            if len(chunk) < READ_SIZE:
                break
        return self._messages()

    def _messages(self) -> list[Any]:
        out, view, at = [], memoryview(self.buffer), 0
        try:
            while len(view) - at >= SHORT.size:
                (size,) = SHORT.unpack_from(view, at)
                start = at + SHORT.size
                if size == -1:
                    if len(view) - start < LONG.size:
                        break
                    (size,) = LONG.unpack_from(view, start)
                    start += LONG.size
                if len(view) - start < size:
                    break
                out.append(pickle.loads(view[start : start + size]))
                at = start + size
        finally:
            view.release()
        del self.buffer[:at]
        return out
