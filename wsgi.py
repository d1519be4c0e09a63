"""WSGI entry point: ``gunicorn wsgi:app``. The only module-level application object.

A configuration mistake stops the start with its one line (no traceback) and exit status 4,
which gunicorn's arbiter reads as "App failed to load" and stops instead of respawning workers.
"""

import sys

from scim_me import create_app
from scim_me.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"scim-me: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(4) from None
