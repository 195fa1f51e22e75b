"""The report added to a timed-out test names the session that waits and the one it waits on."""

import threading

import pytest
from django.db import connection, transaction

from stores.models import Store
from tests.hang_report import database_sessions

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_shows_who_waits_on_whom(store_a):
    if connection.vendor != "postgresql":
        assert database_sessions() is None, "SQLite has no sessions to show"
        return
    holding, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Store.objects.select_for_update().get(pk=store_a.pk)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    def wait_for_the_row():
        try:
            with transaction.atomic():
                Store.objects.select_for_update().get(pk=store_a.pk)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert holding.wait(30)
    waiter = threading.Thread(target=wait_for_the_row)
    waiter.start()
    try:
        for _ in range(100):
            report = database_sessions()
            waiting = [line for line in report.splitlines() if "| Lock |" in line]
            if waiting:
                break
            threading.Event().wait(0.1)
        assert waiting, report
        holder_pid = next(
            line.split(" | ")[0] for line in report.splitlines() if "idle in transaction" in line
        )
        assert f"[{holder_pid}]" in waiting[0], report
        assert "stores_store" in waiting[0]
    finally:
        release.set()
        holder.join(30)
        waiter.join(30)
