//! The OpenAPI 3.1 document of the API, written by hand.
//!
//! Hand-written because the API is small and the document is a contract we
//! want to read in review; drift is caught by tests/api.rs, which checks that
//! the document's operations are exactly [`super::ROUTES`] and that every one
//! of them answers on the router.

use serde_json::{json, Value};

use super::errors::ApiError;
use super::BODY_LIMIT;

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn ok_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

/// The responses every authenticated operation can give besides its own.
fn auth_responses() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("401".into(), error_response("missing, unknown or revoked API key"));
    m.insert(
        "429".into(),
        json!({
            "description": "the key's rate limit is exceeded",
            "headers": { "Retry-After": { "description": "seconds to wait", "schema": { "type": "integer", "minimum": 1 } } },
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        }),
    );
    m.insert("500".into(), error_response("internal error (never caused by the request)"));
    m
}

fn responses(own: &[(&str, Value)]) -> Value {
    let mut m = auth_responses();
    for (status, value) in own {
        m.insert((*status).into(), value.clone());
    }
    Value::Object(m)
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "the notice id" })
}

fn idempotency_param() -> Value {
    json!({
        "name": "Idempotency-Key", "in": "header", "required": true,
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
        "description": "a repeat with the same key and request returns the first answer; the same key with a different request is 409"
    })
}

fn write_responses(what: &str) -> Value {
    responses(&[
        ("200", ok_response(what, "NoticeStatus")),
        ("400", error_response("missing or bad Idempotency-Key, malformed body")),
        ("404", error_response("no such notice for this platform")),
        ("409", error_response("the Idempotency-Key was used with a different request")),
        ("413", error_response(&format!("body larger than {BODY_LIMIT} bytes"))),
    ])
}

fn schemas() -> Value {
    let ts = json!({ "type": "string", "format": "date-time" });
    let ts_or_null = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": false,
            "properties": { "error": {
                "type": "object", "required": ["code", "message"], "additionalProperties": false,
                "properties": {
                    "code": { "type": "string", "enum": ApiError::CODES },
                    "message": { "type": "string" }
                }
            } }
        },
        "Notice": {
            "type": "object",
            "required": ["id", "case_id", "platform", "listings", "shop", "findings", "legal_basis", "authority",
                         "deadline", "contest", "evidence_sha256", "created_at"],
            "properties": {
                "id": { "type": "string", "description": "N + YYYYMMDD + 12 hex" },
                "case_id": { "type": "string" },
                "platform": { "type": "string" },
                "listings": { "type": "array", "items": {
                    "type": "object", "required": ["url", "item_id"],
                    "properties": { "url": { "type": "string" }, "item_id": { "type": "string" } } } },
                "shop": { "type": "object", "required": ["name"], "properties": {
                    "name": { "type": "string" },
                    "uscc": { "type": ["string", "null"], "description": "unified social credit code" } } },
                "findings": { "type": "array", "items": {
                    "type": "object", "required": ["rule_id", "message"],
                    "properties": { "rule_id": { "type": "string" }, "message": { "type": "string" } } } },
                "legal_basis": { "type": "string" },
                "authority": { "type": "string" },
                "deadline": ts,
                "contest": { "type": "string" },
                "evidence_sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "created_at": ts
            }
        },
        "NoticeWithStatus": {
            "allOf": [
                { "$ref": "#/components/schemas/Notice" },
                { "type": "object", "required": ["status"],
                  "properties": { "status": { "$ref": "#/components/schemas/NoticeStatus" } } }
            ]
        },
        "NoticePage": {
            "type": "object", "required": ["notices", "next_cursor"],
            "properties": {
                "notices": { "type": "array", "items": { "$ref": "#/components/schemas/Notice" } },
                "next_cursor": { "type": "string", "description": "opaque; on an empty page, the cursor sent" }
            }
        },
        "Disposition": {
            "type": "object", "required": ["disposition"],
            "properties": {
                "disposition": { "type": "string", "enum": ["delisted", "partially_delisted", "rejected", "disputed"] },
                "reason": { "type": "string", "description": "present with `disputed` only" }
            }
        },
        "NoticeStatus": {
            "type": "object", "required": ["notice_id"],
            "properties": {
                "notice_id": { "type": "string" },
                "acknowledged_at": ts_or_null,
                "disposition": { "oneOf": [ { "$ref": "#/components/schemas/Disposition" }, { "type": "null" } ] },
                "disposition_at": ts_or_null,
                "reported_at": ts_or_null
            }
        },
        "DispositionRequest": {
            "type": "object", "required": ["disposition", "at"], "additionalProperties": false,
            "properties": {
                "disposition": { "type": "string", "enum": ["delisted", "partially_delisted", "rejected", "disputed"] },
                "reason": { "type": "string", "description": "required with `disputed`, refused otherwise" },
                "at": { "type": "string", "format": "date-time", "description": "when the platform acted (RFC 3339)" }
            }
        }
    })
}

/// The document served at `GET /api/openapi.json`.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "spotcheck platform API",
            "version": "1.0.0",
            "description": "Delisting notices for e-commerce platforms: poll them, acknowledge them, report what was done."
        },
        "components": {
            "securitySchemes": { "platformKey": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas()
        },
        "paths": {
            "/healthz": { "get": {
                "operationId": "healthz", "summary": "liveness",
                "responses": { "200": { "description": "the server is up",
                    "content": { "application/json": { "schema": { "type": "object",
                        "properties": { "status": { "const": "ok" } } } } } } }
            } },
            "/api/openapi.json": { "get": {
                "operationId": "openapi", "summary": "this document",
                "responses": { "200": { "description": "the OpenAPI document",
                    "content": { "application/json": { "schema": { "type": "object" } } } } }
            } },
            "/api/platform/v1/notices": { "get": {
                "operationId": "listNotices", "summary": "the platform's notices after a cursor, oldest first",
                "security": [ { "platformKey": [] } ],
                "parameters": [
                    { "name": "cursor", "in": "query", "required": false, "schema": { "type": "string" },
                      "description": "`next_cursor` of the previous page; omit to start" },
                    { "name": "limit", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 100 } }
                ],
                "responses": responses(&[
                    ("200", ok_response("a page of notices", "NoticePage")),
                    ("400", error_response("bad cursor or limit")),
                ])
            } },
            "/api/platform/v1/notices/{id}": { "get": {
                "operationId": "getNotice", "summary": "one notice with its status",
                "security": [ { "platformKey": [] } ],
                "parameters": [ id_param() ],
                "responses": responses(&[
                    ("200", ok_response("the notice", "NoticeWithStatus")),
                    ("404", error_response("no such notice for this platform")),
                ])
            } },
            "/api/platform/v1/notices/{id}/ack": { "post": {
                "operationId": "acknowledgeNotice", "summary": "the platform has received the notice",
                "security": [ { "platformKey": [] } ],
                "parameters": [ id_param(), idempotency_param() ],
                "responses": write_responses("the notice's status")
            } },
            "/api/platform/v1/notices/{id}/disposition": { "post": {
                "operationId": "reportDisposition", "summary": "what the platform did about the notice",
                "security": [ { "platformKey": [] } ],
                "parameters": [ id_param(), idempotency_param() ],
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/DispositionRequest" } } } },
                "responses": write_responses("the notice's status")
            } }
        }
    })
}
