import pytest
from django.core.exceptions import ImproperlyConfigured

from ecrportal.env import env_bool, env_int, env_list, env_str


class TestEnvBool:
    @pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("off", False)])
    def test_reads(self, monkeypatch, raw, expected):
        monkeypatch.setenv("ECR_X_FLAG", raw)
        assert env_bool("ECR_X_FLAG", not expected) is expected

    def test_default_when_unset(self, monkeypatch):
        monkeypatch.delenv("ECR_X_FLAG", raising=False)
        assert env_bool("ECR_X_FLAG", True) is True

    def test_bad_value_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("ECR_X_FLAG", "quizas")
        with pytest.raises(ImproperlyConfigured, match="ECR_X_FLAG"):
            env_bool("ECR_X_FLAG", False)


class TestEnvInt:
    def test_reads(self, monkeypatch):
        monkeypatch.setenv("ECR_X_NUM", "42")
        assert env_int("ECR_X_NUM", 1) == 42

    def test_bad_value_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("ECR_X_NUM", "cuatro")
        with pytest.raises(ImproperlyConfigured, match="ECR_X_NUM"):
            env_int("ECR_X_NUM", 1)

    def test_below_minimum_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("ECR_X_NUM", "0")
        with pytest.raises(ImproperlyConfigured, match="ECR_X_NUM must be >= 1"):
            env_int("ECR_X_NUM", 5, minimum=1)


class TestEnvStr:
    def test_file_variant_wins(self, monkeypatch, tmp_path):
        secret = tmp_path / "secret"
        secret.write_text("desde-archivo\n")
        monkeypatch.setenv("ECR_X_SECRET", "desde-variable")
        monkeypatch.setenv("ECR_X_SECRET_FILE", str(secret))
        assert env_str("ECR_X_SECRET") == "desde-archivo"

    def test_unreadable_file_names_the_variable(self, monkeypatch, tmp_path):
        monkeypatch.setenv("ECR_X_SECRET_FILE", str(tmp_path / "no-existe"))
        with pytest.raises(ImproperlyConfigured, match="ECR_X_SECRET_FILE"):
            env_str("ECR_X_SECRET")

    def test_plain_and_default(self, monkeypatch):
        monkeypatch.delenv("ECR_X_SECRET_FILE", raising=False)
        monkeypatch.setenv("ECR_X_SECRET", "valor")
        assert env_str("ECR_X_SECRET") == "valor"
        monkeypatch.delenv("ECR_X_SECRET")
        assert env_str("ECR_X_SECRET", "por-defecto") == "por-defecto"


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("ECR_X_LIST", " a, b ,,c ")
    assert env_list("ECR_X_LIST") == ["a", "b", "c"]


def test_empty_values_mean_unset_so_a_copied_env_example_keeps_the_defaults(monkeypatch):
    from ecrportal.env import env_bool, env_int, env_str

    monkeypatch.setenv("ECR_T_EMPTY", "")
    assert env_bool("ECR_T_EMPTY", True) is True
    assert env_str("ECR_T_EMPTY", "fallback") == "fallback"
    assert env_int("ECR_T_EMPTY", 7) == 7
