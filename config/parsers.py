"""The one request parser: JSON, with the failures a hostile body can cause turned into 400s."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MALFORMED_JSON = "The request body is not valid JSON."


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise ParseError(MALFORMED_JSON) from None
        except RecursionError:  # thousands of nested brackets: Python's decoder gives up
            raise ParseError(MALFORMED_JSON) from None
