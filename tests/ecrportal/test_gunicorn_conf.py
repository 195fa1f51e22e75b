"""gunicorn.conf.py gives this server a control socket of its own (gunicorn's default path is
shared by every gunicorn of the user on the host), and pyproject.toml pins gunicorn to the range
that knows the setting (issue 11, item 24)."""

import runpy
import tomllib

import gunicorn
from django.conf import settings
from gunicorn.config import Config
from packaging.requirements import Requirement


def _conf(monkeypatch, **env) -> dict:
    for name in ("GUNICORN_BIND", "GUNICORN_CONTROL_SOCKET", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))
    return {name: value for name, value in loaded.items() if not name.startswith("_")}


def test_every_name_is_a_gunicorn_setting(monkeypatch):
    known = set(Config().settings)
    conf = _conf(monkeypatch)
    names = {name for name, value in conf.items() if not callable(value) and name.islower()}
    names -= {"os", "hashlib", "tempfile"}
    assert "control_socket" in names
    assert names <= known, names - known


def test_the_control_socket_is_not_gunicorns_shared_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = _conf(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path))
    assert conf["control_socket"] not in {
        str(tmp_path / "gunicorn.ctl"),
        str(tmp_path / ".gunicorn" / "gunicorn.ctl"),
    }
    assert conf["control_socket"].startswith(str(tmp_path))
    # Unix socket paths are short: the runtime directory plus a short name, not the checkout.
    assert len(conf["control_socket"]) - len(str(tmp_path)) < 40


def test_two_binds_get_two_sockets_and_the_setting_wins(monkeypatch, tmp_path):
    first = _conf(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path), GUNICORN_BIND="127.0.0.1:8000")
    second = _conf(monkeypatch, XDG_RUNTIME_DIR=str(tmp_path), GUNICORN_BIND="127.0.0.1:8100")
    assert first["control_socket"] != second["control_socket"]
    chosen = str(tmp_path / "mine.ctl")
    assert _conf(monkeypatch, GUNICORN_CONTROL_SOCKET=chosen)["control_socket"] == chosen


def test_gunicorn_is_pinned_to_a_range_with_the_control_socket():
    pyproject = tomllib.loads((settings.BASE_DIR / "pyproject.toml").read_text())
    (spec,) = [
        Requirement(dep) for dep in pyproject["project"]["dependencies"] if "gunicorn" in dep
    ]
    assert any(clause.operator == "<" for clause in spec.specifier)
    assert "25.0.9" not in spec.specifier  # no control_socket setting before 25.1
    assert gunicorn.__version__ in spec.specifier
