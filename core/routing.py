"""The one way API paths are declared."""

from typing import Any

from django.urls import URLPattern, re_path


def route(pattern: str, view: Any, name: str) -> URLPattern:
    """The contract's path, with or without a trailing slash, never redirected."""
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)
