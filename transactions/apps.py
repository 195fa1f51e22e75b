from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "transactions"
    verbose_name = "Transacciones"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from stores.crypto import register_encrypted_field
        from transactions import checks  # noqa: F401 -- registers the system checks
        from transactions.webhooks.services import webhook_receiver_forget

        register_encrypted_field("transactions.WebhookEndpoint", "secret_encrypted")
        # The "has a webhook" flag per POS client follows every write of an endpoint row.
        for signal in (post_save, post_delete):
            signal.connect(
                webhook_receiver_forget,
                sender="transactions.WebhookEndpoint",
                dispatch_uid=f"webhook-receiver-{signal is post_save}",
            )
