from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import StrictCharField
from accounts.roles import Scope
from apikeys.models import APIKey

RATE_LIMIT_PATTERN = r"^([1-9][0-9]{0,6}/[smhd])?$"  # apikeys.services.RATE_LIMIT_SHAPE, or blank


class APIKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "rate_limit",
        ]


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.CharField(help_text="The full key. Shown only in this response.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": len(Scope.values) * 2,
        "items": {"type": "string", "enum": list(Scope.values)},
        "description": "At least one scope. A scope beyond the owner's role (or, for a key made "
        "by a key, beyond that key's scopes) is a 400.",
    }
)
class ScopeListField(serializers.ListField):
    """Plain strings to the server: the service says which scopes are unknown or beyond the role.
    The schema names the scopes that exist."""


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 20,
        "pattern": RATE_LIMIT_PATTERN,
        "default": "",
        "description": "Requests per second, minute, hour or day (`100/h`); blank for the "
        "owner's rate. Never above the owner's role rate (a 400).",
    }
)
class RateLimitField(StrictCharField):
    """The service checks the shape (and says what is wrong); the schema states it."""


class APIKeyCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    scopes = ScopeListField(child=StrictCharField(max_length=40), max_length=len(Scope.values) * 2)
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    rate_limit = RateLimitField(max_length=20, required=False, allow_blank=True, default="")
