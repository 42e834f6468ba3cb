import os

from django.core.asgi import get_asgi_application

# A server started without configuration refuses to start (production needs its secrets)
# rather than serving with DEBUG on; ./scripts/run and the tests name their profile.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_asgi_application()
