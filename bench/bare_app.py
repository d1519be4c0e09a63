"""The baseline for bench/run.py: a bare Flask app with one JSON route and nothing else.

No database, no auth, no SCIM logic: just routing and JSON serialisation of an object about the
size of a small /Me user, so that ``scim-me req/s ÷ bare req/s`` measures what scim-me itself costs
on top of Flask + gunicorn. Run it as ``gunicorn bench.bare_app:app`` from the repository root.
"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import jsonify

USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "5f0c1c8e-6a8d-4d0e-9a57-3b1d2c4e5f60",
    "userName": "bench",
    "name": {"givenName": "Bench", "familyName": "Mark"},
    "nickName": "bench",
    "emails": [{"value": "bench@example.com", "primary": True}],
    "meta": {
        "resourceType": "User",
        "created": "2026-01-01T00:00:00.000Z",
        "lastModified": "2026-01-01T00:00:00.000Z",
        "location": "http://127.0.0.1:8080/t/bench/scim2/Users/5f0c1c8e-6a8d-4d0e-9a57-3b1d2c4e5f60",
        "version": 'W/"1"',
    },
}

app = Flask(__name__)


@app.get("/me")
def me() -> Response:
    return jsonify(USER)
