"""Errors in the provider's shape: `{"errors": [{"status": "409", "code": ..., "title": ...}]}`.

`status` is a string, as the contract says. With the `plain_text_errors` fault on, the body is the
bare reason phrase (`Service Unavailable`) as text/plain, which some real answers carry.
"""

from http import HTTPStatus

from django.http import HttpResponse, JsonResponse

NOT_FOUND_TITLE = "Registro no encontrado"
BUSY_TITLE = "La terminal tiene una operación pendiente"
ALREADY_PROCESSING_TITLE = "La intención ya está siendo procesada en la terminal"


class SimError(Exception):
    """A refusal the simulator answers with `status` and a Spanish `title`."""

    def __init__(self, status: int, title: str, *, code: str | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.code = code or str(status)


def bad_request(title: str) -> SimError:
    return SimError(400, title)


def not_found() -> SimError:
    return SimError(404, NOT_FOUND_TITLE)


def conflict(title: str) -> SimError:
    return SimError(409, title)


def unauthorized() -> SimError:
    return SimError(401, "Token inválido o expirado")


def error_body(error: SimError) -> dict:
    return {
        "errors": [
            {
                "status": str(error.status),
                "code": error.code,
                "title": error.title,
                "acquirer_message": None,
            }
        ]
    }


def error_response(error: SimError, *, plain_text: bool = False) -> HttpResponse:
    if plain_text:
        phrase = HTTPStatus(error.status).phrase
        return HttpResponse(phrase, status=error.status, content_type="text/plain; charset=utf-8")
    return JsonResponse(error_body(error), status=error.status)
