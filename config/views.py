"""The service's own endpoints: what it is and whether it is healthy."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.api.views import PublicView
from config.health import health_status


class ServiceInfoView(PublicView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"service": "gatehouse", "version": "1", "docs": "/api/docs"})


class HealthView(PublicView):
    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        body = health_status()
        status = HTTPStatus.OK if body["status"] == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
        return Response(body, status=status, headers={"Cache-Control": "no-store"})
