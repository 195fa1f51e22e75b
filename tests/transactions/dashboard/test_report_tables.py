"""The breakdown rows rendered in Python are what the template rendered: same markup, the count
localized as es-AR (1.234), money as `ars`, every label escaped."""

from decimal import Decimal

from django.template import Context, Template

from transactions.reporting.totals import Line
from transactions.templatetags.report_tables import breakdown_rows

# The rows as the template wrote them before the tag (the reference).
TEMPLATE = Template(
    "{% load money %}{% for line in lines %}"
    '<tr data-label="{{ line.label }}"><td>{{ line.label }}</td><td class="num">{{ line.count }}'
    '</td><td class="num">{{ line.amount|ars }}</td><td class="num">{{ line.taken_back|ars }}'
    '</td><td class="num" data-net>{{ line.net|ars }}</td></tr>'
    '{% empty %}<tr><td colspan="5" class="empty">Sin operaciones aprobadas.</td></tr>'
    "{% endfor %}"
)


def test_the_rows_are_the_templates_rows():
    lines = [
        Line(key=("VISA",), label="VISA · Crédito · 1 cuota", count=1234,
             amount=Decimal("1234567.89"), reversal_count=2, reversal_amount=Decimal("10.50"),
             refund_count=1, refund_amount=Decimal("0.01")),
        Line(key=(7,), label='Caja <b>"1"</b> & co', count=1, amount=Decimal("0")),
        Line(key=(8,), label="Sin lote", count=0, amount=Decimal("5"),
             reversal_amount=Decimal("7.00")),
    ]  # fmt: skip
    for shown in (lines, []):
        assert str(breakdown_rows(shown)) == TEMPLATE.render(Context({"lines": shown}))
    html = str(breakdown_rows(lines))
    assert '<td class="num">1.234</td>' in html and "$ 1.234.567,89" in html
    assert "&lt;b&gt;&quot;1&quot;&lt;/b&gt; &amp; co" in html and "-$ 2,00" in html
