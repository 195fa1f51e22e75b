"""A configuration where the sweeper can starve every other task refuses to start."""

from django.core import checks

from transactions.checks import sweeper_leaves_workers_free


def _ids() -> set[str]:
    return {message.id for message in checks.run_checks()}


def test_one_worker_and_one_sweeper_is_refused(settings):
    settings.ECR_SWEEPER_CHAIN = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    settings.ECR_SWEEPERS = 1
    (error,) = sweeper_leaves_workers_free()
    assert error.id == "transactions.E001" and "Q_WORKERS" in error.hint
    assert "transactions.E001" in _ids(), "registered: manage.py check and qcluster see it"


def test_more_workers_than_sweeper_loops_is_fine(settings):
    settings.ECR_SWEEPER_CHAIN = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 3}
    settings.ECR_SWEEPERS = 2
    assert sweeper_leaves_workers_free() == []


def test_as_many_sweepers_as_workers_is_refused(settings):
    settings.ECR_SWEEPER_CHAIN = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    settings.ECR_SWEEPERS = 2
    assert [e.id for e in sweeper_leaves_workers_free()] == ["transactions.E001"]
