"""OpenAPI post-processing: the contract's paths (no trailing slash) and its error shape on
every operation, so the published schema says what the API really answers."""

from accounts.api.serializers import PASSWORD_MIN_LENGTH, PASSWORD_RULES

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


# --- What the serializers cannot say -------------------------------------------------------
# DRF refuses NUL characters in every string field and trims surrounding whitespace before it
# checks that a required string is not blank; JSON Schema says the same with these patterns.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"

# Where a new password is set: its rules (the password validators) in words, and its length.
NEW_PASSWORDS = {
    "RegisterRequest": "password",
    "ChangePasswordRequest": "new_password",
    "PasswordResetConfirmRequest": "new_password",
}

LOGIN_ONE_OF = [
    {"required": ["username"], "title": "By username"},
    {"required": ["email"], "title": "By email address"},
]


def _string_rules(schema: dict, *, blank_ok: bool) -> None:
    if schema.get("type") != "string" or "enum" in schema or "pattern" in schema:
        return
    if schema.get("format") in ("email", "date-time", "date", "uri", "uuid", "binary"):
        return
    schema["pattern"] = NO_NUL if blank_ok else NOT_BLANK


def _request_component(schema: dict) -> None:
    for prop in schema.get("properties", {}).values():
        if prop.get("readOnly"):
            continue
        if prop.get("writeOnly"):  # passwords: never trimmed, so spaces alone are a password
            _string_rules(prop, blank_ok=True)
            continue
        # drf-spectacular writes minLength 1 for a string that may not be blank.
        _string_rules(prop, blank_ok=prop.get("minLength", 0) == 0)
        if prop.get("type") == "array":
            _string_rules(prop.get("items", {}), blank_ok=False)


def _link(operation_id: str, description: str, *, parameters=None, request_body=None) -> dict:
    link: dict = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    if request_body is not None:
        link["requestBody"] = request_body
    return link


# Which answers lead where: stateful clients (and schemathesis) follow these to reach deep.
LINKS = {
    ("/api/v1/auth/login", "post", "200"): {
        "Refresh": _link(
            "api_v1_auth_refresh_create",
            "Trade the refresh token for a new pair.",
            request_body={"refresh_token": "$response.body#/refresh_token"},
        ),
        "Verify": _link(
            "api_v1_auth_verify_create",
            "Check the access token.",
            request_body={"token": "$response.body#/access_token"},
        ),
        **{
            name: _link(
                operation_id,
                f"{description} with the access token (`Authorization: Bearer <access_token>`).",
                parameters={"header.Authorization": "Bearer {$response.body#/access_token}"},
            )
            for name, operation_id, description in [
                ("Me", "api_v1_auth_me_retrieve", "Read the user object"),
                ("UpdateMe", "api_v1_auth_me_partial_update", "Change the full name"),
                ("Sessions", "api_v1_auth_sessions_list", "List the sessions"),
                ("ApiKeys", "api_v1_api_keys_list", "List the API keys"),
                ("CreateApiKey", "api_v1_api_keys_create", "Make an API key"),
                ("Logout", "api_v1_auth_logout_create", "Log out"),
            ]
        },
    },
    ("/api/v1/auth/refresh", "post", "200"): {
        "Refresh": _link(
            "api_v1_auth_refresh_create",
            "Refresh again with the new refresh token (the old one is spent).",
            request_body={"refresh_token": "$response.body#/refresh_token"},
        ),
    },
    ("/api/v1/auth/register", "post", "201"): {
        "AdminGetUser": _link(
            "api_v1_admin_users_retrieve",
            "The new user, as an admin sees it.",
            parameters={"user_id": "$response.body#/id"},
        ),
    },
    ("/api/v1/api-keys", "post", "201"): {
        "GetApiKey": _link(
            "api_v1_api_keys_retrieve", "Read the new key.", parameters={"key_id": "$response.body#/id"}
        ),
        "RevokeApiKey": _link(
            "api_v1_api_keys_destroy", "Revoke the new key.", parameters={"key_id": "$response.body#/id"}
        ),
    },
    ("/api/v1/auth/sessions", "get", "200"): {
        "RevokeSession": _link(
            "api_v1_auth_sessions_destroy",
            "Revoke a listed session.",
            parameters={"session_id": "$response.body#/0/id"},
        ),
    },
    ("/api/v1/admin/users", "get", "200"): {
        "GetUser": _link(
            "api_v1_admin_users_retrieve",
            "Read a listed user.",
            parameters={"user_id": "$response.body#/results/0/id"},
        ),
        "UpdateUser": _link(
            "api_v1_admin_users_partial_update",
            "Change a listed user.",
            parameters={"user_id": "$response.body#/results/0/id"},
        ),
        "UnlockUser": _link(
            "api_v1_admin_users_unlock_create",
            "Unlock a listed user.",
            parameters={"user_id": "$response.body#/results/0/id"},
        ),
    },
}


def constraints_and_links(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry, after contract_paths_and_errors."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _request_component(schema)
    for component, field in NEW_PASSWORDS.items():
        if component in schemas:
            schemas[component]["properties"][field].update(
                minLength=PASSWORD_MIN_LENGTH, description=PASSWORD_RULES
            )
    # These bodies name every field that may be sent: anything else is a 400 ("cannot be changed").
    for name in ("PatchedProfileUpdateRequest", "PatchedAdminUserUpdateRequest"):
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    if "PatchedProfileUpdateRequest" in schemas:  # PATCH /me: the name is the one thing to send
        schemas["PatchedProfileUpdateRequest"]["required"] = ["full_name"]
        for path in ("/api/v1/auth/me", "/api/v1/auth/profile"):
            body = result.get("paths", {}).get(path, {}).get("patch", {}).get("requestBody")
            if body is not None:
                body["required"] = True
    if "LoginRequest" in schemas:
        schemas["LoginRequest"]["oneOf"] = LOGIN_ONE_OF
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                schema = parameter.get("schema", {})
                # DRF reads a blank query parameter as an absent one: `?role=` filters nothing.
                if schema.get("type") in ("integer", "number") or schema.get("format"):
                    parameter["schema"] = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
                    parameter["description"] = parameter.get("description", "") + "\n\nBlank: absent."
                    continue
                if schema.get("type") == "string":
                    schema.pop("minLength", None)
                    if "enum" in schema:
                        schema["enum"] = [*schema["enum"], ""]
                        parameter["description"] = parameter.get("description", "") + "\n\nBlank: no filter."
                _string_rules(schema, blank_ok=True)
    for (path, method, status), links in LINKS.items():
        response = result.get("paths", {}).get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response.setdefault("links", {}).update(links)
    return result
