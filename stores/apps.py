from django.apps import AppConfig


class StoresConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "stores"
    verbose_name = "Comercios y sucursales"

    def ready(self) -> None:
        from stores.crypto import register_encrypted_field

        register_encrypted_field("stores.Credential", "secret_key_encrypted")

        from stores.audit import register_models

        register_models()
