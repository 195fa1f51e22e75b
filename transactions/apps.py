from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "transactions"
    verbose_name = "Transacciones"

    def ready(self) -> None:
        from stores.crypto import register_encrypted_field

        register_encrypted_field("transactions.WebhookEndpoint", "secret_encrypted")
