"""`/metrics` for Prometheus and the liveness probe: no business rules, no dependencies."""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.metrics import exposition

_BEARER = "Bearer "


def _token_matches(request, expected: str) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith(_BEARER):
        return False
    return hmac.compare_digest(header[len(_BEARER) :].strip().encode(), expected.encode())


@never_cache
def metrics_view(request):
    """Prometheus text format; 404 unless METRICS_TOKEN is set, then a Bearer token is required."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    if not _token_matches(request, expected):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


class LivenessView(APIView):
    """200 while this process serves requests: no database, cache or other dependency is asked."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses={200: inline_serializer("Liveness", {"status": serializers.CharField()})},
        description="Liveness probe for orchestrators; /api/v1/health is the readiness probe.",
    )
    def get(self, request):
        return Response({"status": "ok"}, headers={"Cache-Control": "no-store"})
