from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey


class ServiceInfoView(APIView):
    """The baseline: no authentication, no database (like Gatehouse's GET /api/v1/)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"service": "peer", "version": "1"})


class ApiKeyMeView(APIView):
    """djangorestframework-api-key's HasAPIKey, in its documented form."""

    permission_classes = [HasAPIKey]

    def get(self, request):
        prefix = request.META.get("HTTP_X_API_KEY", "").partition(".")[0]
        return Response({"authenticated": True, "key_prefix": prefix})
