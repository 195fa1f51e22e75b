"""A web worker, once loaded, freezes what it loaded out of the garbage collector's full scans
(`ecrportal.process`), through gunicorn's `post_worker_init` hook."""

import gc
import runpy

from django.conf import settings
from gunicorn.config import Config

from ecrportal import process


def test_settling_freezes_what_is_alive_and_loads_the_views():
    import sys

    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        process.settle_after_load()
        assert gc.get_freeze_count() > 10_000  # the loaded portal, not a handful
        # The URLconf was walked, so every view module is loaded before the first request.
        assert "transactions.dashboard.views.report" in sys.modules
    finally:
        gc.unfreeze()


def test_gunicorn_settles_each_worker_after_loading_the_app(monkeypatch):
    calls = []
    monkeypatch.setattr(process, "settle_after_load", lambda: calls.append("settled"))
    conf = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))
    assert "post_worker_init" in Config().settings
    conf["post_worker_init"](worker=None)
    assert calls == ["settled"]
