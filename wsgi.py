"""WSGI entry point: ``gunicorn wsgi:app``. The only module-level application object."""

from scim_me import create_app

app = create_app()
