"""Liveness of a key and the store's terminals with their live state."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from transactions import selectors
from transactions.api import schema_docs as docs
from transactions.api.serializers import (
    PingSerializer,
    TerminalOutputSerializer,
)
from transactions.api.views.base import (
    PosApiView,
)
from transactions.errors import Code


class PingView(PosApiView):
    error_codes: tuple[Code, ...] = ()

    @extend_schema(
        operation_id="ping",
        summary="Comprobar la clave",
        description="Responde si la clave es válida. No consulta a Prisma.",
        responses={200: PingSerializer, **docs.problems(*error_codes)},
        tags=["Sistema"],
    )
    def get(self, request):
        return Response(
            {"ok": True, "store": self.pos_client.store.name, "pos_client": self.pos_client.name}
        )


class TerminalListView(PosApiView):
    error_codes: tuple[Code, ...] = ()

    @extend_schema(
        operation_id="terminals_list",
        summary="Terminales de la sucursal",
        description="Las terminales de la sucursal de la clave con su estado en vivo: `idle` "
        "(libre), `busy` (con una intención en curso, en `current_intent`) o `disabled`.",
        responses={200: TerminalOutputSerializer(many=True), **docs.problems(*error_codes)},
        tags=["Terminales"],
    )
    def get(self, request):
        states = selectors.terminal_states_for_store(store=self.pos_client.store)
        return Response(TerminalOutputSerializer(states, many=True).data)
