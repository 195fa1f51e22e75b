"""The dashboard's one search box: what a person types at the counter, read as every identifier
of an operation it could be.

"4242" may be a card's last four, an authorization code, a ticket or an amount; "1.234,56" is
an amount; a long token is a POS reference, the reference sent to Prisma (`ecr_transaction_id`)
or Prisma's payment id. The search matches any of them (OR), so nobody has to say which one they
typed. Each branch is an equality on an indexed column (see the `intent_search_*` indexes on
`Intent`), so a store-month of hundreds of thousands of intents answers from the indexes; the
caller scopes the queryset to the user's stores.
"""

import contextlib
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from transactions.money import AmountUnreadable, parse_amount

MAX_LENGTH = 64  # the longest identifier searched (reference, ecr_transaction_id, provider id)
_LAST_FOUR = re.compile(r"[0-9]{4}")
# Identifiers are printable tokens without blanks (references, codes, provider ids).
_TOKEN = re.compile(r"[\w.:/-]{1,64}")


@dataclass(frozen=True)
class SearchTerms:
    """How a typed text was read: each field is None when the text cannot be that."""

    text: str
    token: str | None = None
    last_four: str | None = None
    amount: Decimal | None = None
    public_id: uuid.UUID | None = None

    @property
    def empty(self) -> bool:
        return not (self.token or self.last_four or self.amount or self.public_id)


def search_terms(text: str | None) -> SearchTerms:
    """Reads the search box. Blank, too long or unreadable text reads as nothing."""
    text = (text or "").strip()
    if not text or len(text) > MAX_LENGTH:
        return SearchTerms(text=text[:MAX_LENGTH])
    public_id = None
    with contextlib.suppress(ValueError):
        public_id = uuid.UUID(text)
    amount = None
    with contextlib.suppress(AmountUnreadable):
        amount = parse_amount(text, es_ar=True)
    return SearchTerms(
        text=text,
        token=text if _TOKEN.fullmatch(text) else None,
        last_four=text if _LAST_FOUR.fullmatch(text) else None,
        amount=amount,
        public_id=public_id,
    )


def search_q(terms: SearchTerms) -> Q:
    """The intents the text may name (an empty Q-less match when it names nothing)."""
    if terms.empty:
        return Q(pk__in=[])
    q = Q(pk__in=[])
    if terms.public_id is not None:
        q |= Q(public_id=terms.public_id)
    if terms.token:
        q |= (
            Q(reference=terms.token)
            | Q(ecr_transaction_id=terms.token)
            | Q(provider_id=terms.token)
            | Q(authorization_code=terms.token.upper())
        )
        if terms.token.upper() != terms.token:
            q |= Q(authorization_code=terms.token)
    if terms.last_four:
        q |= Q(card_last_four=terms.last_four)
    if terms.amount is not None:
        q |= Q(amount=terms.amount)
    return q
