"""The application and response classes, each with a shortcut for the common case of a request
that werkzeug handles generically. Both keep werkzeug's behaviour exactly; tests compare them with
it (tests/api/test_flask_classes.py).

Routing: requests to a route without path parameters are matched by one dict lookup instead of
werkzeug's matcher.

For every request Flask binds werkzeug's URL map to the environ and walks its matcher, about
15 µs: a tenth of GET /scim2/Me in-process (docs/dev/performance.md). The match of a rule
without converters depends on the method and the path alone, and most requests here go to such
rules (``/scim2/Me``, ``/oauth2/token``, ``/api/users/v1/me/...``). :class:`ScimMeFlask` keeps
them in a table and answers ``match`` from it; the real adapter is bound only when something else
asks for it (``url_for``, the automatic OPTIONS answer's allowed methods), so those behave as
before.

The table holds only what werkzeug would match the same way: the exact path of the rule (a
trailing or doubled slash, another case or another method goes to werkzeug, with its redirects,
404 and 405), rules without defaults or redirects, and no (method, path) that two rules share.
With ``SERVER_NAME``, ``TRUSTED_HOSTS``, host or subdomain matching configured (this server uses
none of them) every request goes to werkzeug. Routes are added through ``add_url_rule`` (as
blueprints do), which drops the table; it is built again on the next request.

URL building: werkzeug compiles two URL builders for every rule as it is added (Python source
generated and compiled, about 0.35 ms a rule, 40 ms of the app's 50 ms start-up). This server
builds URLs for a handful of rules, so :class:`LazyBuildRule` compiles a rule's builder the first
time it is used, with werkzeug's own code.

Response headers: before a response leaves, werkzeug copies its headers (checking every value
again), turns ``Location`` into a URI and sets ``Content-Length``. For the usual answer, a 2xx
with a body of known length and a ``Location`` that is a URI already (ours are built from the base
URL and an id), the copy would equal the original: :class:`ScimMeResponse` hands over the
headers as they are, and leaves every other response to werkzeug.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from werkzeug.datastructures import Headers
from werkzeug.routing import MapAdapter
from werkzeug.routing import Rule
from werkzeug.urls import iri_to_uri


@functools.lru_cache(maxsize=4096)
def _as_uri(location: str) -> str:
    return iri_to_uri(location)


class ScimMeResponse(Response):
    """Flask's response, with the header shortcut above."""

    def get_wsgi_headers(self, environ: dict[str, Any]) -> Headers:
        status = self.status_code
        if status < 200 or status >= 300 or status == 204 or self.autocorrect_location_header:
            return super().get_wsgi_headers(environ)
        headers = self.headers
        location: str | None = None
        lengths = locations = 0
        for key, value in headers:
            lowered = key.lower()
            if lowered == "location":
                location = value
                locations += 1
            elif lowered == "content-length":
                lengths += 1
            elif lowered == "content-location":
                return super().get_wsgi_headers(environ)
        if lengths != 1 or locations > 1 or (location is not None and _as_uri(location) != location):
            return super().get_wsgi_headers(environ)
        return headers  # what werkzeug would return, less the copy


class StaticMatch:
    """The URL adapter of a request whose rule the table found: ``match`` answers from the
    table; any other use binds werkzeug's adapter, as Flask would have, and goes to it."""

    __slots__ = ("_app", "_bound", "_request", "_rule")

    def __init__(self, app: Flask, request: Request, rule: Rule) -> None:
        self._app = app
        self._request = request
        self._rule = rule
        self._bound: MapAdapter | None = None

    def match(self, *args: Any, **kwargs: Any) -> Any:
        if not args and kwargs == {"return_rule": True}:
            return self._rule, {}  # what RequestContext.match_request asks
        return self.bound().match(*args, **kwargs)

    def bound(self) -> MapAdapter:
        if self._bound is None:
            bound = Flask.create_url_adapter(self._app, self._request)
            if bound is None:  # Flask binds the map for every request: never reached
                raise RuntimeError("Flask bound no URL adapter for a request")
            self._bound = bound
        return self._bound

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bound(), name)


def static_rules(app: Flask) -> dict[tuple[str, str], Rule]:
    """(method, path) → the rule werkzeug would match for it, for rules without converters."""
    table: dict[tuple[str, str], Rule] = {}
    shared: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.defaults or rule.redirect_to is not None or rule.host or rule.subdomain:
            continue
        if getattr(rule, "websocket", False) or not rule.rule.startswith("/"):
            continue
        for method in rule.methods or ():
            key = (method, rule.rule)
            if key in table:
                shared.add(key)
            table[key] = rule
    for key in shared:
        del table[key]  # two rules for one (method, path): werkzeug's order decides, not the table
    return table


class LazyBuildRule(Rule):
    """werkzeug's rule, whose URL builders are compiled at their first use (see above)."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        compiled: Any = None

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            nonlocal compiled
            if compiled is None:
                compiled = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            return compiled(*args, **kwargs)  # type: ignore[no-any-return]

        return build


class ScimMeFlask(Flask):
    """Flask, with the static-route table above, :class:`LazyBuildRule` and :class:`ScimMeResponse`."""

    response_class = ScimMeResponse
    url_rule_class = LazyBuildRule

    _static_rules: dict[tuple[str, str], Rule] | None = None

    def add_url_rule(self, *args: Any, **kwargs: Any) -> None:
        self._static_rules = None
        super().add_url_rule(*args, **kwargs)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is not None and self._table_applies():
            table = self._static_rules
            if table is None:
                table = self._static_rules = static_rules(self)
            environ = request.environ
            rule = table.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
            if rule is not None:
                return StaticMatch(self, request, rule)  # type: ignore[return-value]
        return super().create_url_adapter(request)

    def _table_applies(self) -> bool:
        config = self.config
        return (
            config["SERVER_NAME"] is None
            and config["TRUSTED_HOSTS"] is None
            and not self.url_map.host_matching
            and not self.subdomain_matching
        )
