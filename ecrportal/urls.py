"""Top-level URL map. The simulator is mounted only when ECR_SIMULATOR is on."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from ecrportal import health
from transactions.dashboard.auth import RateLimitedLoginView

urlpatterns = [
    # Operations (ecrportal/health.py): liveness, readiness, Prometheus metrics (bearer token).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # Rate limited: failed logins per username and per address are counted in the cache.
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("transactions.api.urls")),
    # The old "Mis sucursales" pages: Hoy shows the same stores and terminals.
    re_path(r"^sucursales/", RedirectView.as_view(pattern_name="dashboard:home")),
    path("", include("transactions.dashboard.urls")),
]

# 404 is Django's view with our template (it renders with the request already); 403 too, except
# for htmx requests (a fragment for the box that asked).
handler403 = "ecrportal.error_views.permission_denied"
handler500 = "ecrportal.error_views.server_error"

if settings.ECR_SIMULATOR:
    urlpatterns.append(path("simulator/", include("simulator.urls")))
