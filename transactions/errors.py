"""Business-rule errors of the intent services: a stable code, a Spanish message, an HTTP status.

Raised before anything is written, so a refused request changes nothing. The POS API turns them
into problem+json with the same `code`; the dashboard shows `message` as a form error.
"""


class IntentRuleError(Exception):
    """A request the rules refuse. `code` is stable and machine-readable; `message` is Spanish."""

    def __init__(
        self, code: str, message: str, *, field: str | None = None, http_status: int = 422
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"IntentRuleError({self.code!r}, {self.message!r})"
