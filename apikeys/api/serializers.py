from rest_framework import serializers

from accounts.roles import Scope
from apikeys.models import APIKey


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


class APIKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    # Plain strings here: the service says which scopes are unknown or beyond the role.
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=len(Scope.values) * 2
    )
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    rate_limit = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
