"""The server prunes on its own (issue 13): gunicorn's post_worker_init hook
(scim_me/gunicorn_conf.py) starts a PeriodicPrune per worker, unless maintenance_interval_seconds
is 0."""

from __future__ import annotations

import time
from types import SimpleNamespace

from scim_me import gunicorn_conf
from tests.support.apps import build_app


def test_each_worker_prunes_every_interval(database_url, tmp_path):
    app = build_app(database_url, tmp_path, maintenance_interval_seconds=1)
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    periodic = app.extensions["scim_me"].maintenance
    try:
        deadline = time.monotonic() + 20
        while periodic.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert periodic.runs >= 2
    finally:
        periodic.stop()
        app.extensions["scim_me"].db.close_all()


def test_an_interval_of_zero_turns_it_off(database_url, tmp_path):
    app = build_app(database_url, tmp_path, maintenance_interval_seconds=0)
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    assert getattr(app.extensions["scim_me"], "maintenance", None) is None
    app.extensions["scim_me"].db.close_all()
