"""URLconf of `manage.py runsimulator`: only the simulator, at the same /simulator/ prefix."""

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("simulator/", include("simulator.urls")),
    path("", RedirectView.as_view(url="/simulator/", permanent=False)),
]
