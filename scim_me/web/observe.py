"""What operators see: Prometheus metrics and structured (JSON) logs, from one pair of request
hooks installed here and nowhere else.

Nothing is installed unless ``metrics_token`` or ``log_format = "json"`` asks for it, so a server
without them pays nothing per request. With them, a request costs a ``perf_counter`` pair, a
counter and a histogram update (a few microseconds) and/or one log record: no SQL, no I/O
besides the log line. Route templates (``/scim2/Me``), never paths, label the series, so their
number is bounded by the routes.

Security outcomes are counted from the security events (storage/events.py listeners, after the
event's transaction commits): sign-ins by outcome, lockouts, MFA failures. Under gunicorn with
several workers, prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which
must be set before the workers start; scim_me/gunicorn_conf.py empties it at start and marks
dead workers) makes one scrape see every worker.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from time import perf_counter
from typing import Any

from flask import Flask
from flask import Response
from flask import has_request_context
from flask import request

from scim_me.config import Settings
from scim_me.config import prometheus_multiproc_dir
from scim_me.storage import events
from scim_me.tenancy import TENANT_KEY
from scim_me.web.handlers import trace_id

access_log = logging.getLogger("scim_me.access")
# Latency buckets, seconds: the hot path answers in about a millisecond, a password hash in ~50-100 ms.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SIGNIN_OUTCOMES = {"signin.success": "success", "signin.failure": "failure", "signin.locked": "locked"}
LOCKOUTS = {"account.locked": "password", "mfa.locked": "mfa"}
UNMATCHED = "<unmatched>"
STARTED = "scim_me.started"  # the request's perf_counter() at its first hook, in the WSGI environ


class _Metrics:
    """The metric objects, created once per process (prometheus-client registers them globally)."""

    def __init__(self) -> None:
        from prometheus_client import Counter
        from prometheus_client import Histogram

        self.requests = Counter("scim_me_http_requests", "HTTP requests answered", ["method", "route", "status"])
        self.latency = Histogram(
            "scim_me_http_request_duration_seconds", "Time to answer, seconds", ["method", "route"], buckets=BUCKETS
        )
        self.signins = Counter("scim_me_signins", "Password sign-ins by outcome", ["outcome"])
        self.lockouts = Counter("scim_me_lockouts", "Accounts locked, by what locked them", ["factor"])
        self.mfa_failures = Counter("scim_me_mfa_failures", "Wrong MFA codes")


_metrics: _Metrics | None = None


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def _count_event(_tenant_id: int, event: events.EventRecord) -> None:
    found = metrics()
    if event.kind in SIGNIN_OUTCOMES:
        found.signins.labels(SIGNIN_OUTCOMES[event.kind]).inc()
    elif event.kind in LOCKOUTS:
        found.lockouts.labels(LOCKOUTS[event.kind]).inc()
    elif event.kind == "mfa.totp.failure":
        found.mfa_failures.inc()


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Request fields come from ``RequestContext``; messages are the
    code's own (they never hold secrets: see the loggers' callers)."""

    FIELDS = ("traceId", "tenant", "method", "route", "status", "latencyMs")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestContext(logging.Filter):
    """Adds the request's traceId, tenant and route to every record logged while it runs (e.g. the
    traceback of a 500), so the traceId of an error body finds its log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "traceId"):
            record.traceId = trace_id()
            record.tenant = request.environ.get(TENANT_KEY)
            record.route = _route()
        return True


# Libraries that log secrets at DEBUG: authlib the tokens its grants issue, peewee every
# statement with its parameters (password hashes, sealed TOTP seeds, personal data). They log at
# INFO at most, whatever log_level says: DEBUG is for scim-me's own lines (security.md T-LOG-1).
QUIET_LIBRARIES = ("authlib", "peewee")


def configure_logging(settings: Settings) -> None:
    """The root logger: plain lines, or JSON lines on stderr with the request context."""
    level = settings.log_level.upper()
    named = logging.getLevelName(level)  # an int for a known level (Settings validates it)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, named if isinstance(named, int) else logging.INFO))
    if settings.log_format != "json":
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)  # building the app again (tests) replaces, not doubles
    root.addHandler(handler)
    root.setLevel(level)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def install(app: Flask, settings: Settings) -> None:
    """The request hooks: started before anything else, observed after the response is made."""
    counting = bool(settings.metrics_token)
    json_logs = settings.log_format == "json"
    if not (counting or json_logs):
        return
    found = metrics() if counting else None
    if found is not None:
        events.subscribe("metrics", frozenset({*SIGNIN_OUTCOMES, *LOCKOUTS, "mfa.totp.failure"}), _count_event)
        if not prometheus_multiproc_dir():
            logging.getLogger("scim_me.metrics").warning(
                "PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows only the worker that answers the scrape"
            )

    def _start() -> None:
        request.environ[STARTED] = perf_counter()

    # The labelled children, looked up once: prometheus-client's labels() costs ~5 µs a call, the
    # dict ~0.1 µs. Bounded by routes x methods x statuses.
    series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _observe(response: Response) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not five
        environ = current.environ
        elapsed = perf_counter() - environ.get(STARTED, 0.0)
        rule = current.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        if found is not None:
            key = (current.method, route, response.status_code)
            children = series.get(key)
            if children is None:
                children = series[key] = (
                    found.requests.labels(key[0], route, str(key[2])),
                    found.latency.labels(key[0], route),
                )
            children[0].inc()
            children[1].observe(elapsed)
        if json_logs:
            access_log.info(
                "%s %s %d",
                current.method,
                route,
                response.status_code,
                extra={
                    "traceId": trace_id(),
                    "tenant": environ.get(TENANT_KEY),
                    "method": current.method,
                    "route": route,
                    "status": response.status_code,
                    "latencyMs": round(elapsed * 1000, 3),
                },
            )
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_observe)


def scrape(extra: Callable[[], Iterator[Any]]) -> tuple[bytes, str]:
    """The exposition text of every worker's metrics (multiprocess mode) or this one's, plus the
    families ``extra`` yields (gauges read at scrape time, e.g. the mail queue's depth)."""
    from prometheus_client import CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY
    from prometheus_client import CollectorRegistry
    from prometheus_client import generate_latest
    from prometheus_client import multiprocess

    metrics()
    source: Any = REGISTRY
    if prometheus_multiproc_dir():
        source = multiprocess.MultiProcessCollector(None)  # type: ignore[no-untyped-call]

    class _Scrape:
        def collect(self) -> Iterator[Any]:
            yield from source.collect()
            yield from extra()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def gauge(name: str, documentation: str, value: float) -> Any:
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, documentation, value=value)
