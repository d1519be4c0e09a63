"""The application and response classes' shortcuts (scim_me/web/flask_classes.py) answer exactly
what werkzeug answers, and are taken where they apply."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask import Response
from flask import url_for
from flask.globals import _cv_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import RequestRedirect
from werkzeug.routing import Rule
from werkzeug.test import EnvironBuilder

from scim_me.web.flask_classes import LazyBuildRule
from scim_me.web.flask_classes import ScimMeFlask
from scim_me.web.flask_classes import ScimMeResponse
from scim_me.web.flask_classes import StaticMatch

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND")


def _match(app: Flask, adapter: Any) -> tuple[Any, ...]:
    try:
        rule, args = adapter.match(return_rule=True)
    except RequestRedirect as redirect:
        return ("redirect", redirect.new_url)
    except HTTPException as error:
        return ("error", error.code, sorted(getattr(error, "valid_methods", None) or ()))
    return ("rule", rule.rule, rule.endpoint, args)


def _both(app: Flask, method: str, path: str) -> tuple[tuple[Any, ...], tuple[Any, ...], Any]:
    """The match through the app's adapter and through werkzeug's, for one request."""
    environ = EnvironBuilder(path=path, method=method, base_url="http://localhost/t/acme").get_environ()
    ours = app.create_url_adapter(app.request_class(environ))
    werkzeugs = Flask.create_url_adapter(app, app.request_class(environ))
    return _match(app, ours), _match(app, werkzeugs), ours


def _paths(app: Flask) -> list[str]:
    paths = {"/", "", "/scim2/Me/", "//scim2/Me", "/scim2/me", "/scim2//Me", "/scim2/Me?x=1"}
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if "<" in path:
            path = path.replace("<", "").replace(">", "").replace(":", "-")
        paths |= {path, path + "/", path.rstrip("/"), path.upper(), "/" + path}
    return sorted(paths)


def test_every_route_and_method_matches_as_werkzeug_matches_it(app: Any) -> None:
    hits = 0
    for path in _paths(app):
        for method in METHODS:
            ours, werkzeugs, adapter = _both(app, method, path.partition("?")[0])
            assert ours == werkzeugs, (method, path)
            hits += isinstance(adapter, StaticMatch)
    assert hits > 100  # the table answers for the static routes (about 90 of them, most with several methods)


def test_get_me_is_matched_from_the_table_and_binds_werkzeug_only_when_asked(app: Any) -> None:
    with app.test_request_context("/scim2/Me", method="GET"):
        adapter = _cv_request.get().url_adapter
        assert isinstance(adapter, StaticMatch)
        assert adapter._bound is None  # matched without werkzeug's matcher
        assert url_for("scim_me.get_me", _external=True) == "http://localhost/scim2/Me"
        assert adapter._bound is not None


def test_the_automatic_options_answer_is_werkzeugs(app: Any) -> None:
    client = app.test_client()
    ours = client.options("/t/acme/scim2/Me")
    app.config["TRUSTED_HOSTS"] = ["localhost"]  # the table stands aside: werkzeug matches
    theirs = client.options("/t/acme/scim2/Me")
    assert ours.status_code == theirs.status_code
    assert sorted(ours.headers["Allow"].split(", ")) == sorted(theirs.headers["Allow"].split(", "))
    assert {"GET", "PATCH", "PUT", "POST", "DELETE"} <= set(ours.headers["Allow"].split(", "))


@pytest.mark.parametrize("setting", ["SERVER_NAME", "TRUSTED_HOSTS"])
def test_host_settings_leave_matching_to_werkzeug(app: Any, setting: str) -> None:
    app.config[setting] = "localhost" if setting == "SERVER_NAME" else ["localhost"]
    _ours, _werkzeugs, adapter = _both(app, "GET", "/scim2/Me")
    assert not isinstance(adapter, StaticMatch)


def _built(rule: Any, values: dict[str, str], append_unknown: bool) -> Any:
    try:
        return rule.build(values, append_unknown)
    except Exception as error:  # a refusal must be the same refusal
        return type(error).__name__


def test_every_rule_builds_its_url_as_werkzeug_builds_it(app: Any) -> None:
    """LazyBuildRule compiles a rule's builders at their first use, with werkzeug's code."""
    werkzeugs = Map(converters=app.url_map.converters)
    rules = list(app.url_map.iter_rules())
    for rule in rules:
        assert isinstance(rule, LazyBuildRule)
        twin = Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods, defaults=rule.defaults)
        werkzeugs.add(twin)
        values = {name: "v-1 é" for name in rule.arguments}
        for extra in ({}, {"next": "/a b", "n": "2"}):
            for append_unknown in (True, False):
                built = _built(rule, {**values, **extra}, append_unknown)
                assert built == _built(twin, {**values, **extra}, append_unknown), rule.rule
    assert _url_for(app, "scim_me.get_me") == "/scim2/Me"


def _url_for(app: Any, endpoint: str) -> str:
    with app.test_request_context("/"):
        return str(url_for(endpoint))


def test_a_route_added_later_is_matched() -> None:
    app = ScimMeFlask(__name__)
    app.add_url_rule("/a", "a", lambda: "a")
    with app.test_request_context("/a"):
        pass  # builds the table
    app.add_url_rule("/b", "b", lambda: "b")
    assert app.test_client().get("/b").get_data(as_text=True) == "b"


def test_a_path_two_rules_share_is_left_to_werkzeug() -> None:
    app = ScimMeFlask(__name__)
    app.add_url_rule("/same", "first", lambda: "first")
    app.add_url_rule("/same", "second", lambda: "second")
    app.add_url_rule("/other", "other", lambda: "other")
    environ = EnvironBuilder(path="/same").get_environ()
    assert not isinstance(app.create_url_adapter(app.request_class(environ)), StaticMatch)
    assert app.test_client().get("/same").get_data(as_text=True) == "first"  # werkzeug's choice


RESPONSES: dict[str, Any] = {
    "plain 200": lambda: {"response": "{}", "status": 200},
    "201 with a URI location": lambda: {"response": "{}", "status": 201, "headers": {"Location": "https://x.test/a/b"}},
    "an IRI location": lambda: {"response": "{}", "status": 201, "headers": {"Location": "https://x.test/ü/ä b"}},
    "a relative location": lambda: {"response": "", "status": 302, "headers": {"Location": "/next"}},
    "a content location": lambda: {"response": "{}", "headers": {"Content-Location": "/ü"}},
    "two locations": lambda: {"response": "{}", "headers": [("Location", "/a"), ("Location", "/b")]},
    "204": lambda: {"status": 204, "headers": {"Location": "/a"}},
    "304": lambda: {"status": 304, "headers": {"ETag": 'W/"1"', "Content-Type": "text/plain"}},
    "400 with an IRI location": lambda: {"response": "{}", "status": 400, "headers": {"Location": "/ü"}},
    "a stream": lambda: {"response": iter([b"a", b"b"])},
    "bytes chunks": lambda: {"response": [b"ab", b"cd"]},
    "a stated length": lambda: {"response": "abc", "headers": {"Content-Length": "3"}},
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_headers_are_werkzeugs(name: str) -> None:
    environ = EnvironBuilder(path="/scim2/Me", base_url="https://x.test").get_environ()
    ours = ScimMeResponse(**RESPONSES[name]()).get_wsgi_headers(environ)
    theirs = Response(**RESPONSES[name]()).get_wsgi_headers(environ)
    assert ours.to_wsgi_list() == theirs.to_wsgi_list()


def test_the_usual_answer_leaves_with_its_own_headers() -> None:
    environ = EnvironBuilder(path="/scim2/Me").get_environ()
    response = ScimMeResponse("{}", status=200, headers={"Location": "http://localhost/scim2/Users/1", "ETag": 'W/"2"'})
    assert response.get_wsgi_headers(environ) is response.headers  # no copy


def test_the_app_answers_with_its_response_class(app: Any) -> None:
    assert app.response_class is ScimMeResponse
    with app.test_request_context("/scim2/Me"):
        assert isinstance(app.make_response(Response("x")), ScimMeResponse)
