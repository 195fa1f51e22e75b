"""Dashboard URLs, mounted at the site root (`path("", include("transactions.dashboard.urls"))`)."""

from django.urls import path

from transactions.dashboard.views import (
    approvals,
    attention,
    batches,
    finance,
    home,
    integrators,
    intent_list,
    intents,
    receipts,
    settings,
    terminals,
)
from transactions.dashboard.views import homologation as homologation_views
from transactions.dashboard.views import onboarding as onboarding_views
from transactions.dashboard.views import report as daily_report_views

app_name = "dashboard"
urlpatterns = [
    path("", home.home, name="home"),
    # Terminals
    path("terminales/<uuid:public_id>/", terminals.terminal_detail, name="terminal_detail"),
    path("terminales/<uuid:public_id>/estado/", terminals.terminal_live, name="terminal_live"),
    path("terminales/<uuid:public_id>/hoy/", terminals.terminal_today, name="terminal_today"),
    path("terminales/<uuid:public_id>/cobrar/", terminals.terminal_charge, name="terminal_charge"),
    path(
        "terminales/<uuid:public_id>/devolver/", terminals.terminal_refund, name="terminal_refund"
    ),
    # Intents
    path("intenciones/", intent_list.intent_list, name="intent_list"),
    path("intenciones/exportar.csv", intent_list.intent_export_csv, name="intent_export_csv"),
    path("intenciones/<uuid:public_id>/", intents.intent_detail, name="intent_detail"),
    path("intenciones/<uuid:public_id>/panel/", intents.intent_panel, name="intent_panel"),
    path("intenciones/<uuid:public_id>/vivo/", intents.intent_live, name="intent_live"),
    path("intenciones/<uuid:public_id>/cancelar/", intents.intent_cancel, name="intent_cancel"),
    path("intenciones/<uuid:public_id>/anular/", intents.intent_reverse, name="intent_reverse"),
    path("intenciones/<uuid:public_id>/devolver/", intents.intent_refund, name="intent_refund"),
    path("intenciones/<uuid:public_id>/resolver/", intents.intent_resolve, name="intent_resolve"),
    path(
        "intenciones/<uuid:public_id>/no-recibida/",
        intents.intent_not_received,
        name="intent_not_received",
    ),
    path(
        "intenciones/<uuid:public_id>/liberar-referencia/",
        intents.intent_release_reference,
        name="intent_release_reference",
    ),
    path(
        "intenciones/<uuid:public_id>/revisada/",
        intents.intent_acknowledge,
        name="intent_acknowledge",
    ),
    # Maker-checker approvals (issue 15)
    path("aprobaciones/", approvals.approval_list, name="approval_list"),
    path(
        "aprobaciones/<uuid:public_id>/aprobar/",
        approvals.approval_approve,
        name="approval_approve",
    ),
    path(
        "aprobaciones/<uuid:public_id>/rechazar/",
        approvals.approval_reject,
        name="approval_reject",
    ),
    # Batches
    path("lotes/", batches.batch_index, name="batch_index"),
    path("lotes/progreso/", batches.batch_progress, name="batch_progress"),
    path("lotes/<uuid:public_id>/", batches.batch_detail, name="batch_detail"),
    path(
        "lotes/cerrar/terminal/<uuid:public_id>/",
        batches.batch_close_terminal,
        name="batch_close_terminal",
    ),
    path(
        "lotes/cerrar/sucursal/<uuid:public_id>/",
        batches.batch_close_store,
        name="batch_close_store",
    ),
    path("lotes/cerrar/todo/", batches.batch_close_all, name="batch_close_all"),
    # Reconciliation with the acquirer's liquidación
    path("conciliacion/diferencias/", finance.difference_list, name="difference_list"),
    path(
        "conciliacion/diferencias/<uuid:public_id>/",
        finance.difference_detail,
        name="difference_detail",
    ),
    path("conciliacion/liquidaciones/", finance.liquidation_index, name="liquidation_index"),
    # Daily report
    path("reportes/diario/", daily_report_views.daily_report, name="daily_report"),
    path("reportes/diario.csv", daily_report_views.daily_report_csv, name="daily_report_csv"),
    path("reportes/diario.xlsx", daily_report_views.daily_report_xlsx, name="daily_report_xlsx"),
    path(
        "reportes/diario-operaciones.csv",
        daily_report_views.daily_report_operations_csv,
        name="daily_report_operations_csv",
    ),
    path(
        "reportes/correo/",
        daily_report_views.report_email_preference,
        name="report_email_preference",
    ),
    path(
        "reportes/periodo.xlsx",
        daily_report_views.period_report_xlsx,
        name="period_report_xlsx",
    ),
    # Settings (owners)
    path("configuracion/", settings.settings_index, name="settings"),
    path("configuracion/aranceles/", finance.fee_settings, name="fee_settings"),
    path("configuracion/auditoria/", settings.settings_audit, name="settings_audit"),
    path("configuracion/alta-de-flota/", settings.fleet_import_page, name="fleet_import"),
    path("configuracion/alta-prisma/", onboarding_views.onboarding_page, name="onboarding"),
    path(
        "configuracion/homologacion/",
        homologation_views.homologation_page,
        name="homologation",
    ),
    path(
        "configuracion/homologacion.csv",
        homologation_views.homologation_csv,
        name="homologation_csv",
    ),
    path(
        "configuracion/homologacion.xlsx",
        homologation_views.homologation_xlsx,
        name="homologation_xlsx",
    ),
    path(
        "configuracion/homologacion/registrar/",
        homologation_views.homologation_record,
        name="homologation_record",
    ),
    path(
        "configuracion/homologacion/quitar/",
        homologation_views.homologation_forget,
        name="homologation_forget",
    ),
    path(
        "configuracion/homologacion/aprobada/<uuid:public_id>/",
        homologation_views.credential_homologated,
        name="credential_homologated",
    ),
    path("configuracion/piloto/aprobar/", homologation_views.pilot_pass, name="pilot_pass"),
    path("configuracion/comercios/nuevo/", integrators.merchant_create, name="merchant_create"),
    path("configuracion/sucursales/nueva/", settings.store_create, name="store_create"),
    path("configuracion/sucursales/<uuid:public_id>/", settings.store_edit, name="store_edit"),
    path(
        "configuracion/sucursales/<uuid:public_id>/controles/",
        settings.store_money_controls,
        name="store_money_controls",
    ),
    path(
        "configuracion/sucursales/<uuid:public_id>/credencial/",
        settings.store_credential,
        name="store_credential",
    ),
    path("configuracion/terminales/nueva/", settings.terminal_create, name="terminal_create"),
    path(
        "configuracion/terminales/<uuid:public_id>/",
        settings.terminal_edit,
        name="terminal_edit",
    ),
    path("configuracion/credenciales/nueva/", settings.credential_create, name="credential_create"),
    path(
        "configuracion/credenciales/<uuid:public_id>/",
        settings.credential_edit,
        name="credential_edit",
    ),
    path(
        "configuracion/credenciales/<uuid:public_id>/retirar/",
        settings.credential_retire,
        name="credential_retire",
    ),
    path(
        "configuracion/credenciales/<uuid:public_id>/probar/",
        settings.credential_test,
        name="credential_test",
    ),
    path("configuracion/claves-pos/nueva/", settings.pos_key_create, name="pos_key_create"),
    path(
        "configuracion/claves-pos/<uuid:public_id>/permisos/",
        settings.pos_key_permissions,
        name="pos_key_permissions",
    ),
    path(
        "configuracion/claves-pos/<uuid:public_id>/revocar/",
        settings.pos_key_revoke,
        name="pos_key_revoke",
    ),
    path(
        "configuracion/webhooks/<uuid:public_id>/activar/",
        settings.webhook_toggle,
        name="webhook_toggle",
    ),
    path("configuracion/miembros/nuevo/", settings.member_create, name="member_create"),
    path("configuracion/miembros/<uuid:public_id>/", settings.member_edit, name="member_edit"),
    path(
        "configuracion/miembros/<uuid:public_id>/quitar/",
        settings.member_delete,
        name="member_delete",
    ),
    # Receipt, search, attention badge and the terminal fleet (issue 12 items 14 to 17).
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
