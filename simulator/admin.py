"""Read-mostly admin for looking at the simulator's tables while debugging."""

from django.contrib import admin

from simulator.models import SimCredential, SimIntention, SimState, SimTerminal, SimToken


@admin.register(SimIntention)
class SimIntentionAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "ecr_transaction_id", "amount_cents", "terminal"]
    list_filter = ["kind", "status"]
    search_fields = ["ecr_transaction_id", "id"]


@admin.register(SimTerminal)
class SimTerminalAdmin(admin.ModelAdmin):
    list_display = ["terminal_id", "cuit", "batch_number", "autopilot_enabled"]


@admin.register(SimCredential)
class SimCredentialAdmin(admin.ModelAdmin):
    list_display = ["public_key", "cuit", "environment", "merchant_name"]
    exclude = ["secret_key"]


admin.site.register(SimState)
admin.site.register(SimToken)
