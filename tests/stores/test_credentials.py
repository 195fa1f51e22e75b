"""Credential secrets: encrypted at rest, rotatable, and shown nowhere."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from stores.crypto import SecretUnreadable
from stores.forms import CredentialForm
from stores.models import Credential, Environment
from tests.factories import DEFAULT_SECRET_KEY

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_secret_is_encrypted_at_rest_and_round_trips(credential):
    stored = Credential.objects.values_list("secret_key_encrypted", flat=True).get(pk=credential.pk)
    assert DEFAULT_SECRET_KEY not in stored
    assert Credential.objects.get(pk=credential.pk).get_secret() == DEFAULT_SECRET_KEY


def test_each_encryption_is_different(credential):
    first = credential.secret_key_encrypted
    credential.set_secret(DEFAULT_SECRET_KEY)
    assert credential.secret_key_encrypted != first
    assert credential.get_secret() == DEFAULT_SECRET_KEY


def test_rotation_command_reencrypts_with_the_newest_key(credential):
    with override_settings(ECR_ENCRYPTION_KEYS=[OLD_KEY]):
        credential.set_secret("secreto-viejo")
        credential.save()

    # Before rotation the new key alone cannot read it (so the check below can fail).
    with override_settings(ECR_ENCRYPTION_KEYS=[NEW_KEY]), pytest.raises(SecretUnreadable):
        Credential.objects.get(pk=credential.pk).get_secret()

    with override_settings(ECR_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
    assert "Secretos recifrados: 1 (stores.Credential: 1" in out.getvalue()

    with override_settings(ECR_ENCRYPTION_KEYS=[NEW_KEY]):
        assert Credential.objects.get(pk=credential.pk).get_secret() == "secreto-viejo"


def test_rotation_with_a_missing_old_key_fails_clearly(credential):
    with (
        override_settings(ECR_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(CommandError, match="ECR_ENCRYPTION_KEYS"),
    ):
        call_command("rotate_encryption_keys")


def test_repr_and_str_do_not_show_the_secret(credential):
    for text in (repr(credential), str(credential)):
        assert DEFAULT_SECRET_KEY not in text
        assert credential.secret_key_encrypted not in text


class TestCredentialForm:
    def test_rendering_shows_no_secret(self, credential):
        html = str(CredentialForm(instance=credential))
        assert 'name="secret_key"' in html
        assert DEFAULT_SECRET_KEY not in html
        assert credential.secret_key_encrypted not in html

    def test_bound_rendering_after_an_error_does_not_echo_the_secret(self, credential):
        form = CredentialForm(
            data={"name": "", "environment": "homologation", "base_url": "https://x.invalid",
                  "public_key": "pk", "secret_key": "nuevo-secreto-tipeado"},
            instance=credential,
        )  # fmt: skip
        assert not form.is_valid()
        assert "nuevo-secreto-tipeado" not in str(form)

    def test_secret_required_on_create(self, merchant):
        data = {
            "name": "Nueva",
            "environment": Environment.HOMOLOGATION,
            "base_url": "https://simulator.invalid/",
            "public_key": "pk",
            "merchants": [merchant.pk],
        }
        form = CredentialForm(data=data)
        assert not form.is_valid()
        assert "secret_key" in form.errors

        form = CredentialForm(data={**data, "secret_key": "s3creto"})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["base_url"] == "https://simulator.invalid"

    def test_secret_optional_on_edit(self, credential, merchant):
        data = {
            "name": "Renombrada",
            "environment": credential.environment,
            "base_url": credential.base_url,
            "public_key": credential.public_key,
            "secret_key": "",
            "merchants": [merchant.pk],
        }
        assert CredentialForm(data=data, instance=credential).is_valid()

    def test_the_form_does_not_write_by_itself(self, merchant):
        """Secrets are encrypted by the services only: saving the form directly is refused."""
        form = CredentialForm(
            data={"name": "N", "environment": Environment.HOMOLOGATION,
                  "base_url": "https://x.invalid", "public_key": "pk", "secret_key": "s",
                  "merchants": [merchant.pk]},
        )  # fmt: skip
        assert form.is_valid(), form.errors
        with pytest.raises(TypeError, match="stores.services"):
            form.save()
        assert not Credential.objects.filter(name="N").exists()

    def test_a_retired_credential_is_refused(self, credential, merchant):
        from stores.services import credential_retire

        credential_retire(credential=credential)
        data = {
            "name": "Otra",
            "environment": credential.environment,
            "base_url": credential.base_url,
            "public_key": credential.public_key,
            "secret_key": "",
            "merchants": [merchant.pk],
        }
        form = CredentialForm(data=data, instance=credential)
        assert not form.is_valid()
        assert "retirada" in str(form.errors)


class TestAdmin:
    def test_changelist_and_change_form_show_no_secret(self, admin_client, credential):
        pages = [
            reverse("admin:stores_credential_changelist"),
            reverse("admin:stores_credential_change", args=[credential.pk]),
            reverse("admin:stores_credential_history", args=[credential.pk]),
        ]
        for url in pages:
            response = admin_client.get(url)
            assert response.status_code == 200
            body = response.content.decode()
            assert credential.public_key in body or "history" in url
            assert DEFAULT_SECRET_KEY not in body
            assert credential.secret_key_encrypted not in body

    def test_changing_the_secret_through_the_admin(self, admin_client, credential, merchant):
        url = reverse("admin:stores_credential_change", args=[credential.pk])
        response = admin_client.post(
            url,
            {
                "name": credential.name,
                "environment": credential.environment,
                "base_url": credential.base_url,
                "public_key": credential.public_key,
                "secret_key": "secreto-nuevo-admin",
                "merchants": [merchant.pk],
            },
        )
        assert response.status_code == 302
        credential.refresh_from_db()
        assert credential.get_secret() == "secreto-nuevo-admin"

        history = admin_client.get(
            reverse("admin:stores_credential_history", args=[credential.pk])
        ).content.decode()
        assert "clave secreta" in history  # that it changed is recorded...
        assert "secreto-nuevo-admin" not in history  # ...but never the value
        for entry in LogEntry.objects.all():
            assert "secreto-nuevo-admin" not in entry.change_message
            assert "secreto-nuevo-admin" not in entry.object_repr

    def test_create_through_the_admin_requires_a_secret(self, admin_client, merchant):
        url = reverse("admin:stores_credential_add")
        data = {
            "name": "Producción",
            "environment": Environment.PRODUCTION,
            "base_url": "https://api.prismamediosdepago.com",
            "public_key": "pk-prod",
            "merchants": [merchant.pk],
        }
        response = admin_client.post(url, data)
        assert response.status_code == 200
        assert not Credential.objects.filter(name="Producción").exists()

        response = admin_client.post(url, {**data, "secret_key": "sk-prod"})
        assert response.status_code == 302
        assert Credential.objects.get(name="Producción").get_secret() == "sk-prod"
