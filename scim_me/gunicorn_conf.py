"""gunicorn hooks for scim-me: ``gunicorn -c python:scim_me.gunicorn_conf 'scim_me:create_app()'``
(``make run`` and ``make serve`` use it).

Every worker, once its app is loaded, starts its mail sender (notify/outbox.py: mail queued
before a restart leaves at once) and prunes expired rows every ``maintenance_interval_seconds``
(storage/maintenance.py; 0 turns it off).

With ``PROMETHEUS_MULTIPROC_DIR`` set, the workers share their metrics through files in that
folder (prometheus-client's multiprocess mode): the arbiter empties it at start, so a restart
starts from zero instead of adding to the last run's counts, and forgets each worker that exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scim_me.config import prometheus_multiproc_dir


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
