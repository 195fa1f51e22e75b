"""Django admin for superusers. Credential secrets and POS keys are write-only here too."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin

from stores.forms import CredentialForm, MerchantForm
from stores.models import (
    Credential,
    Integrator,
    Membership,
    Merchant,
    PosClient,
    Store,
    Terminal,
)
from stores.services import (
    POS_KEY_PERMISSIONS,
    credential_set_secret,
    pos_client_create,
    pos_client_revoke,
)


class StoreInline(admin.TabularInline):
    model = Store
    fields = ["name", "code", "environment"]
    extra = 0
    show_change_link = True


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    form = MerchantForm
    list_display = ["legal_name", "cuit", "sandbox_only", "created_at"]
    list_filter = ["sandbox_only"]
    search_fields = ["legal_name", "cuit"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [StoreInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.cuit_warning:
            messages.warning(request, obj.cuit_warning)


@admin.register(Integrator)
class IntegratorAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "cuit", "created_at"]
    search_fields = ["legal_name", "cuit"]
    filter_horizontal = ["members"]
    readonly_fields = ["public_id", "created_at"]


class TerminalInline(admin.TabularInline):
    model = Terminal
    fields = ["terminal_id", "label", "serial", "model", "enabled"]
    extra = 0


class StoreResource(resources.ModelResource):
    """Fleet import in the admin (issue 14 item 6): stores by code (idempotent), with their
    merchant by CUIT. Credentials are not imported here: a store's credential is switched in
    the dashboard or by `fleet_import`, under the connection-test and pilot rules."""

    merchant = fields.Field(
        attribute="merchant",
        column_name="cuit",
        widget=widgets.ForeignKeyWidget(Merchant, field="cuit"),
    )

    class Meta:
        model = Store
        import_id_fields = ["code"]
        fields = ["code", "name", "address", "merchant", "time_zone", "batch_close_hour"]
        skip_unchanged = True
        report_skipped = True


class TerminalResource(resources.ModelResource):
    """Terminals by number (idempotent), with their store by code; a production terminal
    respects the pilot gate (`stores.services.terminal_check_purpose`)."""

    store = fields.Field(
        attribute="store",
        column_name="sucursal",
        widget=widgets.ForeignKeyWidget(Store, field="code"),
    )

    class Meta:
        model = Terminal
        import_id_fields = ["terminal_id"]
        fields = ["terminal_id", "store", "label", "model", "serial", "purpose", "enabled"]
        skip_unchanged = True
        report_skipped = True

    def before_save_instance(self, instance, row, **kwargs):
        from stores.services import terminal_check_purpose

        instance.full_clean()
        terminal_check_purpose(terminal=instance)


@admin.register(Store)
class StoreAdmin(ImportExportModelAdmin, admin.ModelAdmin):
    resource_classes = [StoreResource]
    list_display = [
        "name", "code", "merchant", "environment", "credential", "batch_close_hour", "time_zone"
    ]  # fmt: skip
    list_filter = ["environment", "merchant"]
    search_fields = ["name", "code", "address", "merchant__legal_name", "merchant__cuit"]
    list_select_related = ["merchant", "credential"]
    # The credential is switched in the dashboard, after a connection test and a confirmation.
    readonly_fields = ["public_id", "created_at", "credential"]
    inlines = [TerminalInline]


@admin.register(Terminal)
class TerminalAdmin(ImportExportModelAdmin, admin.ModelAdmin):
    resource_classes = [TerminalResource]
    list_display = ["terminal_id", "label", "store", "model", "serial", "enabled"]
    list_filter = ["enabled", "store__merchant", "store"]
    search_fields = ["terminal_id", "label", "serial", "store__name", "store__code"]
    list_select_related = ["store"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    """The secret is write-only: `secret_key_encrypted` is not editable, so it is in no form,
    and it is deliberately absent from every list, filter, search and read-only field."""

    form = CredentialForm
    list_display = ["name", "environment", "base_url", "public_key", "updated_at", "retired_at"]
    list_filter = ["environment", ("retired_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "public_key", "merchants__legal_name", "merchants__cuit"]
    filter_horizontal = ["merchants"]
    readonly_fields = [
        "public_id",
        "subnet_acquirer_id",
        "homologation_approved_at",
        "last_tested_ok_at",
        "created_at",
        "updated_at",
        "retired_at",
    ]
    fields = [
        "public_id",
        "name",
        "environment",
        "subnet_acquirer_id",
        "base_url",
        "public_key",
        "secret_key",
        "merchants",
        "integrator",
        "ecr_provider",
        "ecr_name",
        "ecr_version",
        "homologation_approved_at",
        "last_tested_ok_at",
        "created_at",
        "updated_at",
        "retired_at",
    ]

    @admin.display(description="subnet_acquirer_id")
    def subnet_acquirer_id(self, obj):
        return obj.subnet_acquirer_id if obj.environment else "-"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        secret = form.cleaned_data.get("secret_key")
        if secret:
            # The one way a secret is written. No acting user: who may use the admin is decided
            # by Django's model permissions, not by merchant memberships. (The whole admin save
            # is one transaction, so a new row never stays without its secret.)
            credential_set_secret(credential=obj, secret_key=secret)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "merchant", "store", "created_at"]
    list_filter = ["role", "merchant", "store"]
    search_fields = ["user__username", "user__email", "store__name", "merchant__legal_name"]
    list_select_related = ["user", "store", "merchant"]
    autocomplete_fields = ["user"]
    readonly_fields = ["public_id", "created_at"]


@admin.action(description="Revocar las claves seleccionadas")
def revoke_pos_clients(modeladmin, request, queryset):
    revoked = 0
    for client in queryset.filter(revoked_at__isnull=True):
        pos_client_revoke(client=client)
        revoked += 1
    modeladmin.message_user(request, f"Claves revocadas: {revoked}.", messages.SUCCESS)


@admin.register(PosClient)
class PosClientAdmin(admin.ModelAdmin):
    """Keys are created through `pos_client_create` and shown once, on the page that answers the
    creation (never through a message: messages travel in a cookie or the session). The hash is
    never shown; a lost key is revoked and replaced, not recovered."""

    list_display = ["name", "prefix", "store", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "store"]
    search_fields = ["name", "prefix", "store__name", "store__code"]
    list_select_related = ["store"]
    actions = [revoke_pos_clients]

    def get_fields(self, request, obj=None):
        permissions = list(POS_KEY_PERMISSIONS)
        if obj is None:
            return ["store", "name", *permissions]
        return [
            "public_id",
            "store",
            "name",
            *permissions,
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Revoking goes through the action so it is a one-way, timestamped step.
        return ["public_id", "store", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        client, raw_key = pos_client_create(
            store=obj.store,
            name=obj.name,
            permissions={field: getattr(obj, field) for field in POS_KEY_PERMISSIONS},
        )
        # Let the admin carry on (log entry, response) with the row the service created.
        obj.pk = client.pk
        obj.prefix = client.prefix
        obj.key_hash = client.key_hash
        obj.created_at = client.created_at
        obj._state.adding = False
        obj._state.db = client._state.db
        request._ecr_new_pos_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(request, "_ecr_new_pos_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Clave POS creada",
            "client": obj,
            "raw_key": raw_key,
        }
        response = TemplateResponse(request, "admin/stores/posclient/key_created.html", context)
        add_never_cache_headers(response)
        return response
