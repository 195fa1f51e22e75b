"""The admin names every model of the project in Spanish, plural included (issue 12, item 10):
Django's default plural adds an "s" to the singular ("Estado del simuladors",
"Credencial simuladas")."""

from django.apps import apps
from django.contrib import admin

PROJECT_APPS = {"stores", "transactions", "simulator"}


def test_every_project_model_has_an_explicit_spanish_plural():
    missing = [
        f"{model._meta.label}: {model._meta.verbose_name_plural}"
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        and "verbose_name_plural" not in model._meta.original_attrs
    ]
    assert not missing


def test_the_admin_index_reads_well():
    names = {
        str(model._meta.verbose_name_plural)
        for model in admin.site._registry
        if model._meta.app_label in PROJECT_APPS
    }
    assert "credenciales simuladas" in names
    assert "estado del simulador" in names
    assert "estado del simuladors" not in names and "credencial simuladas" not in names
