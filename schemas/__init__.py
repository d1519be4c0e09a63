"""The shipped schema files, importable as ``scim_me.bundled_schemas`` (setup.cfg maps that package
to this folder, so wheels carry them and editable installs read them here). Nothing to import: the
JSON files are read with importlib.resources (scim_me/config.py ``Settings.schema_source``)."""
