"""The pool reads the worker's `multiprocessing.connection.Connection` frames without blocking."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from haven.inference.wire import MessageReader, frame


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, Connection]]:
    """The pool's socket and, on the other end, the worker's Connection."""
    ours, theirs = socket.socketpair()
    conn = Connection(theirs.detach())
    yield ours, conn
    ours.close()
    conn.close()


def read_until(reader: MessageReader, sock: socket.socket, count: int) -> list[object]:
    got: list[object] = []
    while len(got) < count and not reader.closed:
        sock.recv(1, socket.MSG_PEEK)  # wait until something is there, as the event loop would
        got += reader.feed(sock)
    return got


def test_messages_sent_together_are_all_read(pair: tuple[socket.socket, Connection]) -> None:
    ours, conn = pair
    for i in range(3):
        conn.send(("done", i, [("r1", 200, [0.5] * 384)]))
    reader = MessageReader()
    assert read_until(reader, ours, 3) == [("done", i, [("r1", 200, [0.5] * 384)]) for i in range(3)]
    assert reader.feed(ours) == []  # nothing more: it does not wait
    assert not reader.closed


def test_a_message_larger_than_one_read_is_reassembled(pair: tuple[socket.socket, Connection]) -> None:
    ours, conn = pair
    big = ("result", "r2", 200, "x" * 3_000_000)
    sender = threading.Thread(target=conn.send, args=(big,))
    sender.start()
    reader = MessageReader()
    assert read_until(reader, ours, 1) == [big]
    sender.join()


def test_the_end_of_the_connection_is_noticed_after_the_last_message(pair: tuple[socket.socket, Connection]) -> None:
    ours, conn = pair
    conn.send(("evicted", "m1"))
    conn.close()
    reader = MessageReader()
    got = read_until(reader, ours, 2)
    assert got == [("evicted", "m1")]
    assert reader.feed(ours) == [] and reader.closed


def test_what_the_pool_sends_the_worker_receives(pair: tuple[socket.socket, Connection]) -> None:
    ours, conn = pair
    message = ("batch", 7, {"model_id": "k:embed"}, "feature-extraction", [("r3", "a sentence", {})])
    ours.sendall(frame(message))
    assert conn.recv() == message
