from rest_framework import serializers

from audit.models import AuditEvent, Event


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    target_user = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "timestamp",
            "event",
            "outcome",
            "actor",
            "target_user",
            "ip_address",
            "user_agent",
            "request_id",
            "details",
        ]

    def get_actor(self, event: AuditEvent) -> dict:
        return {"id": event.actor_ref, "kind": event.actor_kind, "label": event.actor_label}

    def get_target_user(self, event: AuditEvent) -> dict | None:
        if event.target_ref is None and not event.target_label:
            return None
        return {"id": event.target_ref, "label": event.target_label}


class AuditQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    event = serializers.ChoiceField(choices=Event.choices, required=False)
    user = serializers.CharField(max_length=150, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(max_length=64, required=False)


class AuditPageSerializer(serializers.Serializer):
    results = AuditEventSerializer(many=True)
    next = serializers.CharField(allow_null=True)
