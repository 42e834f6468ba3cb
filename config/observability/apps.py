from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Metrics, request logs and probes. Counts security events as the audit trail records them."""

    name = "config.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from audit.hooks import audit_listener_add
        from core.metrics import audit_event_counted

        audit_listener_add(audit_event_counted)
