"""OpenAPI post-processing: the contract's paths (no trailing slash) and its error shape on
every operation, so the published schema says what the API really answers."""

ERROR_CODES = {
    "400": "Invalid input (`validation_error`, `password_invalid`, `parse_error`, ...)",
    "401": "Not authenticated, or a bad, expired or revoked credential (`token_not_valid`, "
    "`token_expired`, `token_revoked`, `token_reused`, `session_expired`, `invalid_credentials`)",
    "403": "Authenticated but not allowed (`permission_denied`)",
    "404": "Not found, or not yours (`not_found`)",
    "409": "Conflict (`conflict`), e.g. the last active admin",
    "413": "Request body too large (`request_too_large`)",
    "415": "Not JSON (`unsupported_media_type`)",
    "429": "Rate limited (`rate_limited`) or locked out (`account_locked`); see Retry-After",
    "503": "A dependency (database, cache) is down (`service_unavailable`)",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}


def contract_paths_and_errors(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    paths = {}
    for path, operations in result.get("paths", {}).items():
        contract_path = path.rstrip("/") if path != "/api/v1/" else path
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_CODES.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
        paths[contract_path] = operations
    result["paths"] = paths
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result
