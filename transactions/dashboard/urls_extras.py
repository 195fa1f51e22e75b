"""The routes of issue 12's items 14 to 17 (receipt, attention badge, search, terminal fleet),
kept apart so the main URLconf gains one line. Added to `dashboard` (same namespace)."""

from django.urls import path

from transactions.dashboard.views import attention, receipts

urlpatterns = [
    path("buscar/", attention.search, name="search"),
    path("atencion/contador/", attention.attention_badge, name="attention_badge"),
    path("terminales/", attention.terminal_fleet, name="terminal_fleet"),
    path(
        "intenciones/<uuid:public_id>/comprobante/",
        receipts.intent_receipt,
        name="intent_receipt",
    ),
    path(
        "intenciones/<uuid:public_id>/comprobante/enviar/",
        receipts.intent_receipt_send,
        name="intent_receipt_send",
    ),
]
