"""The admin API (role admin; API keys with admin scopes owned by an admin)."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.client import RequestMeta
from accounts.models import User
from accounts.permissions import HasScope, Scope
from config.errors import NotFound


def _user_or_404(user_id) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


class AdminView(APIView):
    permission_classes = [HasScope]


class AdminUserUnlockView(AdminView):
    required_scopes = {"POST": Scope.ADMIN_WRITE}

    @extend_schema(request=None, responses={204: None})
    def post(self, request, user_id):
        services.lockout_clear(user=_user_or_404(user_id), meta=RequestMeta.from_request(request))
        return Response(status=HTTPStatus.NO_CONTENT)
