"""URLs of the simulator, mounted at /simulator/ (a credential's base URL ends in /simulator).

The API paths are the provider's own (contract §2), without trailing slashes.
"""

from django.urls import path

from simulator import api_views, control_views, screen_views

app_name = "simulator"

PAYMENTS = "v1/paystore_terminals/terminal_payments/payments"
REVERSALS = "v1/paystore_terminals/terminal_reversals/reversals"
REFUNDS = "v1/paystore_terminals/terminal_refunds/refunds"
SETTLEMENTS = "v1/paystore_terminals/terminal_settlements/settlements"

api_patterns = [
    path("v1/oauth/accesstoken", api_views.access_token, name="access_token"),
    path("health/liveness", api_views.liveness, name="liveness"),
    path("v1/health/liveness", api_views.liveness, name="liveness_v1"),
    path(PAYMENTS, api_views.payment_create, name="payment_create"),
    path(f"{PAYMENTS}/searches", api_views.payment_search, name="payment_search"),
    path(f"{PAYMENTS}/<str:pk>", api_views.payment_get, name="payment_get"),
    path(f"{PAYMENTS}/<str:pk>/cancellations", api_views.payment_cancel, name="payment_cancel"),
    path(REVERSALS, api_views.reversal_create, name="reversal_create"),
    path(f"{REVERSALS}/<str:pk>", api_views.reversal_get, name="reversal_get"),
    path(f"{REVERSALS}/<str:pk>/cancellations", api_views.reversal_cancel, name="reversal_cancel"),
    path(REFUNDS, api_views.refund_create, name="refund_create"),
    path(f"{REFUNDS}/<str:pk>", api_views.refund_get, name="refund_get"),
    path(f"{REFUNDS}/<str:pk>/cancellations", api_views.refund_cancel, name="refund_cancel"),
    path(SETTLEMENTS, api_views.settlement_create, name="settlement_create"),
    path(f"{SETTLEMENTS}/<str:pk>", api_views.settlement_get, name="settlement_get"),
]

control_patterns = [
    path("control/faults", control_views.faults, name="control_faults"),
    path("control/tokens/revoke", control_views.tokens_revoke, name="control_tokens_revoke"),
    path("control/reset", control_views.reset, name="control_reset"),
    path("control/credentials", control_views.credentials, name="control_credentials"),
    path("control/counters", control_views.counters, name="control_counters"),
    path("control/autopilot", control_views.autopilot, name="control_autopilot"),
    path("control/terminals", control_views.terminals, name="control_terminals"),
    path(
        "control/terminals/<str:terminal_id>",
        control_views.terminal_detail,
        name="control_terminal",
    ),
    path(
        "control/terminals/<str:terminal_id>/autopilot",
        control_views.terminal_autopilot,
        name="control_terminal_autopilot",
    ),
    path(
        "control/terminals/<str:terminal_id>/<str:action>",
        control_views.terminal_action,
        name="control_terminal_action",
    ),
]

screen_patterns = [
    path("", screen_views.index, name="index"),
    path("terminals/<str:terminal_id>/", screen_views.terminal_screen, name="terminal_screen"),
    path(
        "terminals/<str:terminal_id>/<str:action>",
        screen_views.terminal_screen_action,
        name="terminal_screen_action",
    ),
]

urlpatterns = api_patterns + control_patterns + screen_patterns
