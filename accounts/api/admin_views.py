"""The admin API (role admin; API keys with admin scopes owned by an admin)."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import (
    AdminUserPageSerializer,
    AdminUserQuerySerializer,
    AdminUserSerializer,
    AdminUserUpdateSerializer,
)
from accounts.client import RequestMeta
from accounts.models import RevokeReason, User
from accounts.permissions import HasScope, Scope
from config.errors import NotFound


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
    permission_classes = [HasScope]


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
        user = services.user_admin_update(
            user=user, meta=RequestMeta.from_request(request), **serializer.validated_data
        )
        return Response(AdminUserSerializer(user).data)

    @extend_schema(responses={204: None})
    def delete(self, request, user_id):
        services.user_delete(user=_user_or_404(user_id), meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)


class AdminUserUnlockView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request, user_id):
        services.lockout_clear(user=_user_or_404(user_id), meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)


class AdminUserRevokeSessionsView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request, user_id):
        services.session_revoke_all(
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
        return Response(services.auth_cleanup(meta=RequestMeta.from_request(request)))
