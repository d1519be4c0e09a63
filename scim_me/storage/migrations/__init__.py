"""Versioned schema migrations. Each step is applied once, in order, in its own transaction, and
recorded in ``schema_migrations``. Steps are never edited after release: a change is a new step.

- ``steps/``: one module per step, numbered for order (``vNN_what_it_does``), listed in
  ``steps.MIGRATIONS``;
- ``frozen``: the tables as each step left them, declared once and evolved; steps build from it,
  never from ``models.py``;
- ``runner``: ``upgrade``, ``current_version`` and ``LATEST``.

Adding a step: declare the change in ``frozen`` (a new table listed in ``CREATED``, or
``if self.version >= N:`` in an existing one), write ``steps/vNN_...`` with ``VERSION``, ``NAME``
and ``apply``, append it to ``steps.MIGRATIONS``, and change ``models.py`` to match;
``tests/storage/test_schema_drift.py`` fails until the models and the upgraded database agree.
"""

from scim_me.storage.migrations.runner import LATEST
from scim_me.storage.migrations.runner import current_version
from scim_me.storage.migrations.runner import upgrade
from scim_me.storage.migrations.steps import MIGRATIONS
from scim_me.storage.migrations.steps import Step

__all__ = ["LATEST", "MIGRATIONS", "Step", "current_version", "upgrade"]
