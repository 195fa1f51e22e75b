"""Test cards a person (or the autopilot) presents on a simulated terminal."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    key: str
    label: str
    card_brand_product: str
    card_brand: str
    payment_type: str  # CREDIT | DEBIT
    card_type: str  # entry mode
    bin: str
    last_four_digits: str
    card_holder: str
    acquirer_id: str = "PRISMA"
    approved: bool = True
    response_code: str = "00"
    message: str = "APROBADA"


CARDS: dict[str, TestCard] = {
    card.key: card
    for card in [
        TestCard(
            "visa_credito", "Visa crédito", "VI", "VISA", "CREDIT", "CHIP_CONTACTLESS",
            "450799", "0010", "GOMEZ/ANA",
        ),
        TestCard(
            "visa_debito", "Visa débito", "EL", "VISA", "DEBIT", "CHIP",
            "451766", "0027", "PEREZ/JUAN",
        ),
        TestCard(
            "mastercard", "Mastercard", "MC", "MASTERCARD", "CREDIT", "CHIP",
            "545454", "5454", "FERNANDEZ/LUCIA",
        ),
        TestCard(
            "amex", "American Express", "AM", "AMEX", "CREDIT", "CHIP",
            "376411", "1005", "LOPEZ/MARIO", acquirer_id="AMEX",
        ),
        TestCard(
            "cabal", "Cabal", "CA", "CABAL", "CREDIT", "MAGNETIC_STRIPE",
            "589657", "0019", "DIAZ/SOFIA",
        ),
        TestCard(
            "naranja", "Naranja", "NA", "NARANJA", "CREDIT", "CHIP",
            "589562", "0029", "ROMERO/LUIS",
        ),
        TestCard(
            "declinada", "Tarjeta rechazada", "VI", "VISA", "CREDIT", "CHIP",
            "400000", "0002", "RECHAZO/TEST",
            approved=False, response_code="05", message="NO AUTORIZADA",
        ),
    ]
}  # fmt: skip

# A wallet paying a QR code is funded by a debit card; entry mode is QR_CODE.
QR_WALLET = TestCard(
    "qr", "QR (billetera)", "EL", "VISA", "DEBIT", "QR_CODE", "451766", "0027", "BILLETERA/QR"
)

# Card the autopilot presents when an intention is restricted to a brand product.
_BY_PRODUCT = {card.card_brand_product: card for card in CARDS.values() if card.approved}


def card_for_restriction(card_brand_product: str | None) -> TestCard:
    """The approved card the autopilot uses: one of the restricted brand, else Visa crédito."""
    if card_brand_product and card_brand_product in _BY_PRODUCT:
        return _BY_PRODUCT[card_brand_product]
    if card_brand_product:
        # A product without a test card of its own (PD, MA, C2, ...): synthesize one.
        return TestCard(
            f"auto_{card_brand_product.lower()}", card_brand_product, card_brand_product,
            PRODUCT_BRANDS.get(card_brand_product, "VISA"), "DEBIT", "CHIP", "501041", "0041",
            "AUTOPILOTO/TEST",
        )  # fmt: skip
    return CARDS["visa_credito"]


# Brand of every product the contract names; used to validate `card_brand_product`.
PRODUCT_BRANDS = {
    "VI": "VISA",
    "EL": "VISA",
    "MC": "MASTERCARD",
    "PD": "MASTERCARD",
    "MA": "MAESTRO",
    "AM": "AMEX",
    "CA": "CABAL",
    "C2": "CABAL",
    "NA": "NARANJA",
}
