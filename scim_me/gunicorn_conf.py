"""gunicorn hooks for scim-me: ``gunicorn -c python:scim_me.gunicorn_conf 'scim_me:create_app()'``
(``make run`` and ``make serve`` use it).

Every worker, once its app is loaded, starts its mail sender (notify/outbox.py: mail queued
before a restart leaves at once) and prunes expired rows every ``maintenance_interval_seconds``
(storage/maintenance.py; 0 turns it off).

With ``PROMETHEUS_MULTIPROC_DIR`` set, the workers share their metrics through files in that
folder (prometheus-client's multiprocess mode): the arbiter empties it at start, so a restart
starts from zero instead of adding to the last run's counts, and forgets each worker that exits.

A response with a known length leaves in one write, its head with its body (OneWriteResponse).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.http import wsgi

from scim_me.config import prometheus_multiproc_dir


class OneWriteResponse(wsgi.Response):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's response, but the head goes out in the same write as the body.

    Stock gunicorn sends the head, then the body, in two writes. A worker killed between them
    (kill -9, the OOM killer, a node lost) leaves a proxy holding a head without its body: the
    answer has started, so the proxy can no longer send the request to another instance, and the
    client gets a truncated response. In one write, the proxy gets all of it or nothing, and a read
    it got nothing for is retried elsewhere (docs/operations.md, HAProxy's ``retry-on``). Chunked
    bodies, bodies gunicorn drops (HEAD, 204, 304) and files sent with sendfile keep gunicorn's
    own path.
    """

    _head: bytes | None = None
    headers_sent: bool

    def write(self, arg: bytes) -> None:
        if (
            not self.headers_sent
            and arg
            and not self.chunked
            and not self._omits_body
            and (self.response_length is None or self.response_length > 0)
        ):
            lines = self.default_headers()
            lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
            self._head = util.to_bytestring("{}\r\n".format("".join(lines)), "latin-1")
            self.headers_sent = True  # so write() goes straight on to _emit_body
        super().write(arg)

    def _emit_body(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        super()._emit_body(data)


wsgi.Response = OneWriteResponse  # gunicorn's create() builds every response from it


def on_starting(_server: Any) -> None:
    folder = prometheus_multiproc_dir()
    if folder:
        path = Path(folder)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(_server: Any, worker: Any) -> None:
    if prometheus_multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def post_worker_init(worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get("scim_me")
    if state is None:
        return
    # Mail queued before a restart (or by another instance) leaves without waiting for a request.
    state.mailer.start()
    if state.settings.maintenance_interval_seconds <= 0:
        return
    from scim_me.storage.maintenance import PeriodicPrune

    state.maintenance = PeriodicPrune(
        state.db,
        state.settings.maintenance_interval_seconds,
        leeway_seconds=state.settings.token_leeway,
        absolute_lifetime_seconds=state.settings.refresh_token_absolute_lifetime,
    ).start()
