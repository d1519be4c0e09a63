"""Path parameters are checked by the router, before any view or query sees them.

A URL segment may hold anything a client percent-encodes: NUL (which PostgreSQL refuses in a text
parameter with an error, not a miss: ``DELETE /api/users/v1/me/sessions/%00x`` was a 500), other
control characters, or bytes that are not UTF-8 (werkzeug decodes them to U+FFFD). No id this app
issues or stores holds one of those, so the default and ``path`` converters simply do not match
such a segment: the request is a 404 like any other unknown URL, rendered in the path's dialect
(web/handlers.py: SCIM under /scim2, a WSO2 body elsewhere). Every route with a path parameter,
present and future, gets the check without naming it.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Map
from werkzeug.routing import PathConverter
from werkzeug.routing import UnicodeConverter

# C0 controls and NUL, DEL, surrogates and U+FFFD (werkzeug's stand-in for bytes that are not UTF-8).
_REFUSED = "\\x00-\\x1f\\x7f\\ud800-\\udfff\\ufffd"


class PlainSegment(UnicodeConverter):
    """The default converter (one segment), refusing the characters above."""

    def __init__(self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", f"[^/{_REFUSED}]", 1)


class PlainPath(PathConverter):
    """``<path:...>`` (slashes allowed), refusing the same characters."""

    regex = f"[^/{_REFUSED}][^{_REFUSED}]*?"


def register_converters(app: Flask) -> None:
    """Call before any blueprint is registered: a rule binds its converters when it is added."""
    app.url_map.converters["default"] = PlainSegment
    app.url_map.converters["string"] = PlainSegment
    app.url_map.converters["path"] = PlainPath
