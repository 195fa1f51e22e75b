"""The one error type of the gateway, carrying a verdict the caller can act on.

`retryable` says the same call may be repeated safely (nothing reached the provider, or the call
is a read). `in_doubt` says a create may have reached the provider: it must never be re-sent
blindly; the intention has to be looked for first (contract §5). Both false: a definite answer
(usually a 4xx) that repeating would not change.
"""

from __future__ import annotations

from decimal import Decimal


class GatewayError(Exception):
    """A provider call that did not produce a usable answer.

    `message` is readable (Spanish, or the provider's own text) and never carries secrets or
    tokens. `http_status` is None when no HTTP answer arrived. `code` is the provider's
    `errors[0].code` when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        in_doubt: bool = False,
        retry_after: Decimal | float | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retryable = retryable
        self.in_doubt = in_doubt
        self.retry_after = retry_after
        self.operation = operation

    @property
    def outcome(self) -> str:
        """The `GatewayCall.outcome` this error is recorded with."""
        if self.in_doubt:
            return "in_doubt"
        if self.retryable:
            return "retryable"
        return "error"

    def __str__(self) -> str:
        if self.http_status:
            return f"HTTP {self.http_status}: {self.message}"
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, http_status={self.http_status}, "
            f"code={self.code!r}, retryable={self.retryable}, in_doubt={self.in_doubt})"
        )


class ProviderRejected(GatewayError):
    """A definite refusal (400, 404, 409, ...): the provider answered and did nothing."""


class AuthenticationFailed(GatewayError):
    """The provider refused the credential (401 on the token, or 401 again after renewal)."""
