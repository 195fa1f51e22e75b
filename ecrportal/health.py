"""Operations endpoints, project-level (outside the dashboard and API URLconfs):

- `/healthz`: liveness. The process answers; nothing else is touched (a database outage must not
  make an orchestrator restart every web process).
- `/readyz`: readiness, with django-health-check: database, cache (both aliases), the django-q2
  broker with its queue depth, and the age of the sweeper's heartbeat. 200 when all pass, 503
  with the failing ones named otherwise. JSON, no secrets (messages are ours or the library's).
- `/metrics`: Prometheus text format (prometheus-client), the numbers of
  `transactions.metrics.PortalCollector`. Protected: it answers only with
  `Authorization: Bearer <ECR_METRICS_TOKEN>`, and is off (404) while that variable is empty, so
  a deployment behind a reverse proxy never exposes it by accident.
"""

import asyncio
import dataclasses
import hmac

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from ecrportal.env import env_str
from transactions import metrics

# Past this many waiting tasks the workers are not keeping up (webhooks and closes wait).
QUEUE_DEPTH_MAX = 1000


@dataclasses.dataclass
class SweeperHeartbeat(HealthCheck):
    """A sweeper loop swept within `HEARTBEAT_STALE_AFTER_SECONDS`."""

    async def run(self) -> None:
        age = await sync_to_async(metrics.sweeper_heartbeat_age)()
        if age is None:
            raise ServiceUnavailable("ningún sweeper registró actividad")
        if age > metrics.HEARTBEAT_STALE_AFTER_SECONDS:
            raise ServiceUnavailable(f"el sweeper no barre hace {age:.0f} s")


@dataclasses.dataclass
class TaskBroker(HealthCheck):
    """The django-q2 broker answers and its queue is not piling up."""

    async def run(self) -> None:
        try:
            depth = await sync_to_async(metrics.task_queue_depth)()
        except Exception as error:
            raise ServiceUnavailable("el broker de tareas no responde") from error
        if depth > QUEUE_DEPTH_MAX:
            raise ServiceUnavailable(f"{depth} tareas en cola (máximo {QUEUE_DEPTH_MAX})")


READINESS_CHECKS = (
    "health_check.checks.Database",
    ("health_check.checks.Cache", {"alias": "default"}),
    ("health_check.checks.Cache", {"alias": settings.PINNED_CACHE}),
    TaskBroker,
    SweeperHeartbeat,
)


class ProbeView(HealthCheckView):
    """django-health-check's view, always answering JSON (no template, whatever `Accept` says)
    and 503 rather than 500 when a check fails: the process works, what it needs does not."""

    checks = ()

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        failing = {repr(result.check): str(result.error) for result in self.results if result.error}
        status = 503 if failing else 200
        return JsonResponse(
            {"status": "fail" if failing else "ok", "failing": failing}, status=status
        )


healthz = ProbeView.as_view(checks=())
readyz = ProbeView.as_view(checks=READINESS_CHECKS)


def metrics_token() -> str:
    """The bearer token `/metrics` requires; empty: `/metrics` is off."""
    return env_str("ECR_METRICS_TOKEN", "")


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = metrics_token()
    if not token:
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = HttpResponse("Unauthorized", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.PortalCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
