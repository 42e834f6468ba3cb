from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasScope, MfaSatisfied
from accounts.roles import Scope
from apikeys import selectors, services
from apikeys.api.serializers import APIKeyCreatedSerializer, APIKeyCreateSerializer, APIKeySerializer
from apikeys.authentication import KeyPrincipal
from core.request import RequestMeta


class APIKeyListView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": Scope.KEYS_READ, "POST": Scope.KEYS_WRITE}

    @extend_schema(responses={200: APIKeySerializer(many=True)})
    def get(self, request):
        keys = selectors.apikey_list_for_owner(owner_id=request.user.pk)
        return Response(APIKeySerializer(keys, many=True).data)

    @extend_schema(request=APIKeyCreateSerializer, responses={201: APIKeyCreatedSerializer})
    def post(self, request):
        # A key outlives its session: for roles that need MFA it is minted only by a session
        # that logged in with a code (or by a key such a session minted).
        MfaSatisfied().has_permission(request, self)
        serializer = APIKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key, full_key = services.apikey_create(
            owner=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_in_days=data.get("expires_in_days"),
            rate_limit=data["rate_limit"],
            parent=request.auth if isinstance(request.auth, KeyPrincipal) else None,
            meta=RequestMeta.from_request(request),
        )
        body = {**APIKeySerializer(key).data, "key": full_key}
        return Response(body, status=HTTPStatus.CREATED, headers={"Cache-Control": "no-store"})


class APIKeyDetailView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": Scope.KEYS_READ, "DELETE": Scope.KEYS_WRITE}

    @extend_schema(responses={200: APIKeySerializer})
    def get(self, request, key_id: int):
        return Response(
            APIKeySerializer(selectors.apikey_get_for_owner(owner_id=request.user.pk, key_id=key_id)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, key_id: int):
        services.apikey_revoke_for_owner(
            owner_id=request.user.pk, key_id=key_id, meta=RequestMeta.from_request(request)
        )
        return Response(status=HTTPStatus.NO_CONTENT)
