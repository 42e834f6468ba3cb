from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from accounts import hooks
        from apikeys import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from apikeys.cache import forget_keys_of
        from apikeys.selectors import apikey_cleanup_targets, apikey_stats
        from apikeys.services import apikeys_revoke_for_user

        # accounts cannot import apikeys (it sits below); it calls these through its hooks.
        hooks.on_user_powers_changed(forget_keys_of)
        hooks.on_user_credentials_revoked(apikeys_revoke_for_user)
        hooks.on_cleanup(apikey_cleanup_targets)
        hooks.on_stats(apikey_stats)
