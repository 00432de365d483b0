"""URLs of the claim benchmark's app: the product's, plus a baseline page that runs one indexed query."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from review.models import ReviewTask


def baseline(request: HttpRequest, pk: int) -> HttpResponse:
    """One indexed query (a primary-key lookup), behind the same middleware and login as the claim."""
    state = ReviewTask.objects.filter(pk=pk).values_list("state", flat=True).first()
    return HttpResponse(state or "-", content_type="text/plain")


urlpatterns = [
    path("bench/baseline/<int:pk>/", baseline),
    path("", include("backoffice.urls")),
]
