"""Card brands: the products a payment may be restricted to, and the one label of a brand.

The contract names card *products* (`VI` Visa crédito, `EL` Visa débito, ...); the provider's
answers and the closing ticket speak of *brands* ("VISA", "MASTERCARD", "AMEX"), in whatever
case a person or an older answer wrote them. `brand_label` folds all of that to one label, so
Hoy, the daily report, the exports and the batch reconciliation count a brand under one name.
"""

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class BrandProduct:
    """A card product of the contract (§3).

    `name` is how the API documents it, `choice` how the dashboard's charge form offers it, and
    `brand` the label the provider and the closing ticket use for its sales."""

    code: str
    name: str
    choice: str
    brand: str


PRODUCTS: tuple[BrandProduct, ...] = (
    BrandProduct("VI", "Visa", "Visa crédito", "VISA"),
    BrandProduct("EL", "Visa Débito", "Visa débito / Electron", "VISA"),
    BrandProduct("MC", "Mastercard", "Mastercard", "MASTERCARD"),
    BrandProduct("PD", "Mastercard Débito", "Mastercard débito", "MASTERCARD"),
    BrandProduct("MA", "Maestro", "Maestro", "MAESTRO"),
    BrandProduct("AM", "American Express", "American Express", "AMEX"),
    BrandProduct("CA", "Cabal", "Cabal", "CABAL"),
    BrandProduct("C2", "Cabal Débito", "Cabal débito", "CABAL"),
    BrandProduct("NA", "Naranja", "Naranja", "NARANJA"),
)

# The debit products (contract §3: cash-back, `change_amount`, is "cash back on debit").
DEBIT_PRODUCTS = frozenset({"EL", "PD", "MA", "C2"})
# The brand labels a refund window may name (`MoneyControls.refund_window_days`), in order.
BRAND_LABELS: tuple[str, ...] = tuple(dict.fromkeys(product.brand for product in PRODUCTS))

# Card brand products a payment may be restricted to: code -> name.
BRAND_PRODUCTS: dict[str, str] = {product.code: product.name for product in PRODUCTS}
_PRODUCT_BRANDS: dict[str, str] = {product.code: product.brand for product in PRODUCTS}
# Spellings of a brand that are not its label (the ticket prints "AMEX").
_BRAND_ALIASES = {"AMERICAN EXPRESS": "AMEX"}

NO_BRAND = "Sin marca"


def brand_choices() -> list[tuple[str, str]]:
    """The charge form's choices: any card, or one product ("Visa crédito (VI)")."""
    return [("", "Cualquier tarjeta")] + [
        (product.code, f"{product.choice} ({product.code})") for product in PRODUCTS
    ]


# Pure and called once per exported row: the provider's few spellings are remembered.
@functools.lru_cache(maxsize=1024)
def brand_label(card_brand: str | None, card_brand_code: str | None = "") -> str:
    """One label per brand: "Visa", "VISA", " visa " and the product codes VI and EL are all
    "VISA". The brand the provider reported wins over the product code; an unknown code is
    shown as it came; neither is "Sin marca"."""
    name = " ".join((card_brand or "").split()).upper()
    if name:
        return _BRAND_ALIASES.get(name, name)
    code = (card_brand_code or "").strip().upper()
    if code:
        return _PRODUCT_BRANDS.get(code, code)
    return NO_BRAND
