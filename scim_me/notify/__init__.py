"""Outgoing mail and the notices scim-me sends on security events."""
