"""Content negotiation with DRF's answer for what API clients send, without its parsing.

Nearly every request says nothing (no Accept header), `*/*` or `application/json`; DRF's
negotiation would parse the query string and the header to pick the same JSON renderer.
Anything else (another type, a list, `?format=`) goes through DRF's negotiation unchanged, so
its 406 and 404 answers stay as they are.
"""

from rest_framework.negotiation import DefaultContentNegotiation

_JSON = "application/json"
_PLAIN_ACCEPTS = frozenset({"", "*/*", _JSON})


class JSONFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            format_suffix is None
            and first is not None
            and first.media_type == _JSON
            and request.META.get("HTTP_ACCEPT", "").strip() in _PLAIN_ACCEPTS
            and "format" not in request.META.get("QUERY_STRING", "")
        ):
            return first, _JSON
        return super().select_renderer(request, renderers, format_suffix)
