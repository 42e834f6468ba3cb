from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasScope, Scope
from audit import selectors
from audit.api.serializers import AuditEventSerializer, AuditPageSerializer, AuditQuerySerializer


class AuditLogListView(APIView):
    """The audit trail, newest first, with cursor pagination (admins; keys with admin:read)."""

    permission_classes = [HasScope]
    required_scopes = {"GET": Scope.ADMIN_READ}

    @extend_schema(parameters=[AuditQuerySerializer], responses={200: AuditPageSerializer})
    def get(self, request):
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events = selectors.audit_filter(
            event=params.get("event"),
            user=params.get("user"),
            since=params.get("since"),
            until=params.get("until"),
        )
        rows, next_cursor = selectors.audit_page(
            events=events, limit=params["limit"], cursor=params.get("cursor")
        )
        return Response({"results": AuditEventSerializer(rows, many=True).data, "next": next_cursor})
