"""The admin API (role admin; API keys with admin scopes owned by an admin): users, stats,
cleanup and the audit trail (audit knows no other app, so its staff view lives here)."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api.serializers import (
    AdminUserPageSerializer,
    AdminUserQuerySerializer,
    AdminUserSerializer,
    AdminUserUpdateSerializer,
)
from accounts.models import RevokeReason, User
from accounts.permissions import HasScope, MfaSatisfied
from accounts.roles import Scope
from accounts.services.housekeeping import auth_cleanup
from accounts.services.lockouts import lockout_clear
from accounts.services.sessions import session_revoke_all
from accounts.services.users import user_admin_update, user_delete
from audit import selectors as audit_selectors
from audit.api.serializers import AuditEventSerializer, AuditPageSerializer, AuditQuerySerializer
from core.errors import NotFound
from core.request import RequestMeta


class UserPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _user_or_404(user_id) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


class AdminView(APIView):
    permission_classes = [HasScope, MfaSatisfied]


class AdminUserListView(AdminView):
    required_scopes = {"GET": Scope.ADMIN_READ}

    @extend_schema(
        operation_id="admin_users_list",
        parameters=[AdminUserQuerySerializer],
        responses={200: AdminUserPageSerializer},
    )
    def get(self, request):
        query = AdminUserQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        users = selectors.user_list(**query.validated_data)
        paginator = UserPagination()
        page = paginator.paginate_queryset(users, request, view=self)
        return paginator.get_paginated_response(AdminUserSerializer(page, many=True).data)


class AdminUserDetailView(AdminView):
    required_scopes = {"GET": Scope.ADMIN_READ, "PATCH": Scope.ADMIN_WRITE, "DELETE": Scope.ADMIN_WRITE}

    @extend_schema(responses={200: AdminUserSerializer})
    def get(self, request, user_id):
        return Response(AdminUserSerializer(_user_or_404(user_id)).data)

    @extend_schema(request=AdminUserUpdateSerializer, responses={200: AdminUserSerializer})
    def patch(self, request, user_id):
        user = _user_or_404(user_id)
        serializer = AdminUserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_admin_update(
            user_id=user.pk, meta=RequestMeta.from_request(request), **serializer.validated_data
        )
        return Response(AdminUserSerializer(user).data)

    @extend_schema(responses={204: None})
    def delete(self, request, user_id):
        user_delete(user_id=_user_or_404(user_id).pk, meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)


class AdminUserUnlockView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request, user_id):
        lockout_clear(user=_user_or_404(user_id), meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)


class AdminUserRevokeSessionsView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request, user_id):
        session_revoke_all(
            user=_user_or_404(user_id), reason=RevokeReason.ADMIN, meta=RequestMeta.from_request(request)
        )
        return Response(status=HTTPStatus.NO_CONTENT)


class AdminStatsView(AdminView):
    required_scopes = {"GET": Scope.ADMIN_READ}

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(selectors.auth_stats())


class AdminCleanupView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={200: dict})
    def post(self, request):
        return Response(auth_cleanup(meta=RequestMeta.from_request(request)))


class AuditLogListView(AdminView):
    """The audit trail, newest first, with cursor pagination (admins; keys with admin:read)."""

    required_scopes = {"GET": Scope.ADMIN_READ}

    @extend_schema(parameters=[AuditQuerySerializer], responses={200: AuditPageSerializer})
    def get(self, request):
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events = audit_selectors.audit_filter(
            event=params.get("event"),
            user=params.get("user"),
            since=params.get("since"),
            until=params.get("until"),
        )
        rows, next_cursor = audit_selectors.audit_page(
            events=events, limit=params["limit"], cursor=params.get("cursor")
        )
        return Response({"results": AuditEventSerializer(rows, many=True).data, "next": next_cursor})
