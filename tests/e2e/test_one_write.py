"""scim_me/gunicorn_conf.py: a response with a known length leaves in one write, head and body.

Two writes leave a window in which a killed worker has sent a head without its body; a proxy then
holds an answer it can neither finish nor retry (tests/cluster/test_cluster.py kills an instance
under load and expects no failed read). These tests drive gunicorn's own request parser and
``wsgi.create`` over a real socket pair, so they fail if the conf stops installing the class or if
a gunicorn upgrade changes what the head holds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from scim_me import gunicorn_conf

BODY = b'{"id": "1", "userName": "kim"}'
STOCK = wsgi.Response.__mro__[1] if wsgi.Response is gunicorn_conf.OneWriteResponse else wsgi.Response


class RecordingSocket:
    """A real socket whose sends are also kept, one entry per call."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def answer(
    pair: tuple[socket.socket, socket.socket],
    method: str,
    status: str,
    headers: list[tuple[str, str]],
    chunks: list[bytes],
    response_class: type[wsgi.Response] | None = None,
) -> list[bytes]:
    """One request through gunicorn's parser and create(), answered by a WSGI-style writer."""
    client, server = pair
    client.sendall(f"{method} /scim2/Me HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    cfg = Config()
    request = next(iter(RequestParser(cfg, server, ("127.0.0.1", 1))))
    recording = RecordingSocket(server)
    response, _environ = wsgi.create(
        request, recording, ("127.0.0.1", 1), ("127.0.0.1", 2), cfg, response_class=response_class
    )
    response.start_response(status, headers)
    for chunk in chunks:
        response.write(chunk)
    response.close()
    return recording.sends


def without_date(sent: list[bytes]) -> bytes:
    """What was sent, the clock's header left out (the two runs may straddle a second)."""
    return re.sub(rb"\r\nDate: [^\r]*", b"", b"".join(sent))


def test_the_conf_installs_the_one_write_response() -> None:
    assert wsgi.Response is gunicorn_conf.OneWriteResponse


def test_a_response_with_a_length_leaves_in_one_write(pair: tuple[socket.socket, socket.socket]) -> None:
    headers = [("Content-Type", "application/scim+json"), ("Content-Length", str(len(BODY)))]
    sends = answer(pair, "GET", "200 OK", headers, [BODY])
    assert len(sends) == 1, sends
    head, _, body = sends[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 30" in head and b"\r\nContent-Type: application/scim+json" in head
    assert body == BODY


def test_the_bytes_are_what_stock_gunicorn_sends(pair: tuple[socket.socket, socket.socket]) -> None:
    cases: list[tuple[str, str, list[tuple[str, str]], list[bytes]]] = [
        ("GET", "200 OK", [("Content-Length", str(len(BODY)))], [BODY]),
        ("GET", "200 OK", [("Content-Length", str(len(BODY)))], [BODY[:10], BODY[10:]]),
        ("GET", "200 OK", [], [BODY[:10], BODY[10:]]),  # no length: chunked, gunicorn's own path
        ("HEAD", "200 OK", [("Content-Length", str(len(BODY)))], [BODY]),  # body dropped
        ("DELETE", "204 No Content", [], [b""]),
        ("GET", "200 OK", [("Content-Length", "0")], [b""]),
        ("GET", "200 OK", [("Content-Length", "4")], [BODY]),  # never more than the length
    ]
    for method, status, headers, chunks in cases:
        ours = answer(pair, method, status, headers, chunks)
        client, server = socket.socketpair()
        try:
            stock = answer((client, server), method, status, headers, chunks, response_class=STOCK)
        finally:
            client.close()
            server.close()
        assert without_date(ours) == without_date(stock), (method, status, headers)
        assert len(ours) <= len(stock)
    # Only the first write of a length-known body carries the head; later ones are body alone.
    split = answer(pair, "GET", "200 OK", [("Content-Length", str(len(BODY)))], [BODY[:10], BODY[10:]])
    assert split[1] == BODY[10:] and split[0].endswith(b"\r\n\r\n" + BODY[:10])
