"""URLs of the POS API, included by the project at `api/`: `/api/v1/...`, `/api/schema/` and
`/api/docs/` (Swagger UI served from drf-spectacular-sidecar, no CDN)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from transactions.api import views
from transactions.api.problems import api_not_found
from transactions.api.schema_docs import API_DESCRIPTION

app_name = "pos-api"


def only_pos_api(endpoints, **kwargs):
    """Spectacular preprocessing hook: the schema documents the POS API only."""
    return [e for e in endpoints if e[0].startswith("/api/v1/")]


SCHEMA_SETTINGS = {
    "TITLE": "ECR Portal · API para POS",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "PREPROCESSING_HOOKS": ["transactions.api.urls.only_pos_api"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI keeps the key between reloads of the docs page; nothing is sent elsewhere.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": True},
}

urlpatterns = [
    path("v1/ping", views.PingView.as_view(), name="ping"),
    path("v1/terminals", views.TerminalListView.as_view(), name="terminal-list"),
    path("v1/payments", views.PaymentCreateView.as_view(), name="payment-create"),
    path(
        "v1/payments/<str:public_id>/reversal",
        views.PaymentReversalView.as_view(),
        name="payment-reversal",
    ),
    path("v1/refunds", views.RefundCreateView.as_view(), name="refund-create"),
    path("v1/settlements", views.SettlementCreateView.as_view(), name="settlement-create"),
    path("v1/intents", views.IntentListView.as_view(), name="intent-list"),
    path("v1/intents/<str:public_id>", views.IntentDetailView.as_view(), name="intent-detail"),
    path(
        "v1/intents/<str:public_id>/cancel", views.IntentCancelView.as_view(), name="intent-cancel"
    ),
    path("v1/webhook", views.WebhookView.as_view(), name="webhook"),
    path("schema/", SpectacularAPIView.as_view(custom_settings=SCHEMA_SETTINGS), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="pos-api:schema", title="ECR Portal · API para POS"
        ),
        name="docs",
    ),
    # Last: anything else under /api/ is a problem+json 404.
    re_path(r"^.*$", api_not_found),
]
