"""Spanish names of provider values in templates: `{% load labels %}` then
`{{ intent.provider_status|provider_status_label }}`,
`{{ intent.payment_type|payment_type_label }}`,
`{{ intent.entry_mode|entry_mode_label }}`, `{{ event.actor_label|actor_label }}`,
`{{ call.operation|operation_label }}`, `{{ store.time_zone|time_zone_label }}`, and
`{% for kind, at, item in timeline|fold_idle_reads %}` (kind "idle": `item.text`, `item.count`).

The words live in `transactions/labels.py`.
"""

from django import template

from transactions import labels

register = template.Library()

register.filter("provider_status_label", labels.provider_status_label)
register.filter("payment_type_label", labels.payment_type_label)
register.filter("entry_mode_label", labels.entry_mode_label)
register.filter("actor_label", labels.actor_label)
register.filter("operation_label", labels.operation_label)
register.filter("time_zone_label", labels.time_zone_label)


@register.filter
def fold_idle_reads(timeline):
    """Runs of reads that changed nothing as one line each (see `labels.fold_idle_reads`)."""
    return labels.fold_idle_reads(list(timeline or []))
