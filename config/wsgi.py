import os

from django.core.wsgi import get_wsgi_application

# A server started without configuration refuses to start (production needs its secrets)
# rather than serving with DEBUG on; ./scripts/run and the tests name their profile.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()


def keep_cache_connections() -> bool:
    """Stop Django's end-of-request `close()` of every cache when closing would do nothing.

    django-redis closes nothing unless asked to (`CLOSE_CONNECTION`), and the local-memory
    cache has nothing to close; the loop over the caches still costs every request. Returns
    whether it was stopped (any other backend keeps Django's behaviour).
    """
    from django.conf import settings
    from django.core.cache import close_caches
    from django.core.signals import request_finished

    quiet = {"django_redis.cache.RedisCache", "config.cache_backends.RateLimitRedisCache"}
    for config in settings.CACHES.values():
        if config["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
            continue
        closes = config.get("OPTIONS", {}).get(
            "CLOSE_CONNECTION", getattr(settings, "DJANGO_REDIS_CLOSE_CONNECTION", False)
        )
        if config["BACKEND"] not in quiet or closes:
            return False
    return request_finished.disconnect(close_caches)


keep_cache_connections()
