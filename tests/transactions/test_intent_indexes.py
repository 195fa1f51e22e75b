"""The ledger's table carries no index another one already provides: every index is written on
each INSERT and UPDATE of an intent, the hottest writes of the POS API and the sweeper."""

import pytest
from django.db import connection

from transactions.models import Intent

pytestmark = pytest.mark.django_db


def _indexes() -> dict[str, tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Intent._meta.db_table)
    return {
        name: tuple(info["columns"])
        for name, info in constraints.items()
        if info["index"]
        and not info["primary_key"]
        and not info["unique"]
        # Partial indexes answer other questions than a full one with the same columns.
        and name not in _partial()
    }


def _partial() -> set[str]:
    return {index.name for index in Intent._meta.indexes if index.condition is not None}


def test_no_single_column_index_is_the_prefix_of_another():
    indexes = _indexes()
    redundant = [
        (name, columns[0], other)
        for name, columns in indexes.items()
        if len(columns) == 1
        for other, wider in indexes.items()
        if other != name and len(wider) > 1 and wider[0] == columns[0]
    ]
    assert not redundant, redundant


def test_no_two_indexes_on_the_same_columns():
    seen: dict[tuple[str, ...], str] = {}
    for name, columns in sorted(_indexes().items()):
        assert columns not in seen, (name, seen.get(columns))
        seen[columns] = name
