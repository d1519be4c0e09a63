"""Step 10: consent management (Kantara consent receipts, WSO2 consent-mgt API): PII categories,
purpose categories and purposes with integer ids, and receipts linked to them. Receipts keep
their history (a revoke sets ``state``); metadata a receipt or purpose refers to cannot be
deleted (NO ACTION foreign keys: checked at the end of the statement, so deleting a tenant
still cascades through everything)."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 10
NAME = "consent management: purposes, categories, receipts"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables(
        [
            schema.PiiCategory,
            schema.PurposeCategory,
            schema.Purpose,
            schema.PurposePii,
            schema.Receipt,
            schema.ReceiptService,
            schema.ReceiptPurpose,
            schema.ReceiptPurposeCategory,
            schema.ReceiptPii,
        ],
        safe=False,
    )
