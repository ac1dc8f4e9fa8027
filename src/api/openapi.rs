//! The OpenAPI 3.1 document of the API, written by hand.
//!
//! Hand-written because the API is small and the document is a contract we
//! want to read in review; drift is caught by tests/api.rs, which checks that
//! the document's operations are exactly [`super::ROUTES`] and that every one
//! of them answers on the router. Each operation's security scheme and its
//! 401/403/429 answers come from its audience in [`super::ROUTES`], so the
//! document cannot say a route is open when the table says it is not.

use serde_json::{json, Map, Value};

use super::openapi_schemas::schemas;
use super::{Audience, BODY_LIMIT, ROUTES};
use crate::access::Role;

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

/// `response` with an OpenAPI link `name` to operation `to`, whose path parameter `param` is at `pointer` of the body.
fn linked(mut response: Value, name: &str, to: &str, param: &str, pointer: &str) -> Value {
    response["links"] =
        json!({ name: { "operationId": to, "parameters": { param: format!("$response.body#{pointer}") } } });
    response
}

/// The security scheme of an audience (`None` for public routes).
fn scheme(audience: Audience) -> Option<&'static str> {
    match audience {
        Audience::Public => None,
        Audience::Platform => Some("platformKey"),
        Audience::Token(Role::Staff) => Some("staffToken"),
        Audience::Token(Role::Enforcement) => Some("enforcementToken"),
        Audience::Token(Role::Admin) => Some("adminToken"),
    }
}

fn audience(method: &str, path: &str) -> Audience {
    ROUTES.iter().find(|(m, p, _)| *m == method && *p == path).map_or(Audience::Public, |(_, _, a)| *a)
}

/// The answers every operation of `audience` can give besides its own.
fn audience_responses(audience: Audience) -> Map<String, Value> {
    let mut m = Map::new();
    if audience != Audience::Public {
        m.insert("401".into(), error_response("missing, unknown or revoked key or token, or one of another audience"));
        m.insert(
            "429".into(),
            json!({
                "description": "the key's or token's rate limit is exceeded",
                "headers": { "Retry-After": { "description": "seconds to wait", "schema": { "type": "integer", "minimum": 1 } } },
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }),
        );
    }
    if let Audience::Token(role) = audience {
        m.insert("403".into(), error_response(&format!("a token of another role than `{role}`")));
    }
    m.insert("500".into(), error_response("internal error (never caused by the request)"));
    m
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" }, "description": description })
}

fn idempotency_param() -> Value {
    json!({
        "name": "Idempotency-Key", "in": "header", "required": true,
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
        "description": "a repeat with the same key and request returns the first answer; the same key with a different request is 409"
    })
}

fn query_param(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// The cursor of id-ordered pages (findings, cases): the last id of the previous page.
fn cursor_param() -> Value {
    query_param("cursor", json!({ "type": "string" }), "`next_cursor` of the previous page; omit to start")
}

/// The cursor of notice pages: base64url of a sequence number (8 bytes, so 11
/// characters whose last one carries no spare bits), padding optional.
fn notice_cursor_param() -> Value {
    let schema = json!({ "type": "string", "pattern": "^([A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]=?)?$" });
    query_param("cursor", schema, "`next_cursor` of the previous page; omit (or leave empty) to start")
}

fn limit_param() -> Value {
    query_param("limit", json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 100 }), "page size")
}

fn list_responses(what: &str, schema: &str) -> Vec<(&'static str, Value)> {
    vec![("200", ok_response(what, schema)), ("400", error_response("bad cursor, limit or filter"))]
}

/// The answers of a write besides its own success and conflicts.
fn write_responses(
    ok: (&'static str, Value),
    not_found: &str,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ok,
        ("400", error_response("missing or bad Idempotency-Key, malformed body")),
        ("404", error_response(not_found)),
        ("413", error_response(&format!("body larger than {BODY_LIMIT} bytes"))),
    ];
    let mut conflicts = vec!["the Idempotency-Key was used with a different request"];
    conflicts.extend(extra.iter().filter(|(s, _)| *s == "409").map(|(_, d)| *d));
    out.push(("409", error_response(&conflicts.join("; "))));
    out.extend(extra.iter().filter(|(s, _)| *s != "409").map(|(s, d)| (*s, error_response(d))));
    out
}

const NO_SEALING: &str = "this server has no station key to seal with (`sealing_unavailable`)";

/// One operation: `(method, path, operationId, summary, parameters, request body schema, responses)`.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    params: Vec<Value>,
    body: Option<&'static str>,
    responses: Vec<(&'static str, Value)>,
}

impl Op {
    fn to_json(&self) -> Value {
        let audience = audience(self.method, self.path);
        let mut responses = audience_responses(audience);
        for (status, value) in &self.responses {
            responses.insert((*status).into(), value.clone());
        }
        let mut op = json!({ "operationId": self.id, "summary": self.summary, "responses": responses });
        if let Some(s) = scheme(audience) {
            op["security"] = json!([{ s: [] }]);
        }
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params.clone());
        }
        if let Some(schema) = self.body {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": {
                "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
        }
        op
    }
}

fn platform_ops() -> Vec<Op> {
    let id = || path_param("id", "the notice id");
    let notice_404 = "no such notice for this platform";
    vec![
        Op {
            method: "GET",
            path: "/api/platform/v1/notices",
            id: "listNotices",
            summary: "the platform's notices after a cursor, oldest first",
            params: vec![notice_cursor_param(), limit_param()],
            body: None,
            responses: list_responses("a page of notices", "NoticePage"),
        },
        Op {
            method: "GET",
            path: "/api/platform/v1/notices/{id}",
            id: "getNotice",
            summary: "one notice with its status",
            params: vec![id()],
            body: None,
            responses: vec![
                ("200", ok_response("the notice", "NoticeWithStatus")),
                ("404", error_response(notice_404)),
            ],
        },
        Op {
            method: "POST",
            path: "/api/platform/v1/notices/{id}/ack",
            id: "acknowledgeNotice",
            summary: "the platform has received the notice",
            params: vec![id(), idempotency_param()],
            body: None,
            responses: write_responses(("200", ok_response("the notice's status", "NoticeStatus")), notice_404, &[]),
        },
        Op {
            method: "POST",
            path: "/api/platform/v1/notices/{id}/disposition",
            id: "reportDisposition",
            summary: "what the platform did about the notice",
            params: vec![id(), idempotency_param()],
            body: Some("DispositionRequest"),
            responses: write_responses(("200", ok_response("the notice's status", "NoticeStatus")), notice_404, &[]),
        },
    ]
}

fn staff_ops() -> Vec<Op> {
    let finding = || path_param("id", "the finding id");
    let status = json!({ "type": "string", "enum": ["open", "confirmed", "dismissed"] });
    let case_status = json!({ "type": "string", "enum": crate::cases::CaseStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>() });
    vec![
        Op {
            method: "GET",
            path: "/api/staff/v1/findings",
            id: "staffListFindings",
            summary: "findings in id order with their triage status and case",
            params: vec![
                query_param("status", status, "only findings with this triage status"),
                query_param("rule", json!({ "type": "string" }), "only findings of this rule id"),
                cursor_param(),
                limit_param(),
            ],
            body: None,
            responses: list_responses("a page of findings", "FindingPage"),
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/findings/{id}",
            id: "staffGetFinding",
            summary: "one finding with its triage history and case",
            params: vec![finding()],
            body: None,
            responses: vec![("200", ok_response("the finding", "Finding")), ("404", error_response("no such finding"))],
        },
        Op {
            method: "POST",
            path: "/api/staff/v1/findings/{id}/confirm",
            id: "staffConfirmFinding",
            summary: "confirm a finding: it is routed and opens or joins a case (idempotent)",
            params: vec![finding(), idempotency_param()],
            body: Some("ConfirmRequest"),
            responses: write_responses(
                ("200", ok_response("what confirming did, and the case", "Confirmed")),
                "no such finding",
                &[("409", "the case changed meanwhile: send it again with a new Idempotency-Key")],
            ),
        },
        Op {
            method: "POST",
            path: "/api/staff/v1/findings/{id}/dismiss",
            id: "staffDismissFinding",
            summary: "dismiss a finding as a false positive, with the reason",
            params: vec![finding(), idempotency_param()],
            body: Some("DismissRequest"),
            responses: write_responses(
                ("200", ok_response("the finding is dismissed", "Dismissed")),
                "no such finding",
                &[("409", "the finding is in a case: record the outcome on the case instead")],
            ),
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/rules/stats",
            id: "staffRuleStats",
            summary: "triage counts and the false-positive rate per rule",
            params: vec![],
            body: None,
            responses: vec![("200", ok_response("one row per rule with findings", "RuleStats"))],
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/cases",
            id: "staffListCases",
            summary: "cases in id order (opening date first)",
            params: vec![
                query_param("status", case_status, "only cases in this state"),
                query_param("bureau", json!({ "type": "string" }), "only cases of bureaus whose code starts so"),
                cursor_param(),
                limit_param(),
            ],
            body: None,
            responses: list_responses("a page of cases", "CasePage"),
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/cases/{id}",
            id: "staffGetCase",
            summary: "one case: findings, shops, routing, merges, audit log",
            params: vec![path_param("id", "the case id")],
            body: None,
            responses: vec![("200", ok_response("the case", "Case")), ("404", error_response("no such case"))],
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/notices",
            id: "staffListNotices",
            summary: "every platform's notices in issue order, with status and overdue flag",
            params: vec![notice_cursor_param(), limit_param()],
            body: None,
            responses: list_responses("a page of notices", "StaffNoticePage"),
        },
        Op {
            method: "GET",
            path: "/api/staff/v1/notices/{id}",
            id: "staffGetNotice",
            summary: "one notice with its status, overdue flag, our follow-up and every re-crawl check",
            params: vec![path_param("id", "the notice id")],
            body: None,
            responses: vec![
                ("200", ok_response("the notice", "StaffNoticeDetail")),
                ("404", error_response("no such notice")),
            ],
        },
        Op {
            method: "POST",
            path: "/api/staff/v1/cases/{id}/notices",
            id: "staffIssueCaseNotices",
            summary:
                "seal the case's evidence bundle and issue one notice per platform and shop (only the missing ones \
                when some exist)",
            params: vec![path_param("id", "the case id"), idempotency_param()],
            body: Some("IssueNoticesRequest"),
            responses: write_responses(
                (
                    "201",
                    linked(
                        ok_response("the notices, and the bundle they rest on", "IssuedNotices"),
                        "firstNotice",
                        "staffGetNotice",
                        "id",
                        "/notices/0/id",
                    ),
                ),
                "no such case",
                &[
                    ("409", "the case is closed (`case_closed`) or has no findings (`no_findings`)"),
                    ("503", NO_SEALING),
                ],
            ),
        },
    ]
}

fn enforcement_ops() -> Vec<Op> {
    let case = || path_param("id", "the case id");
    let not_ours = "no such case in the token's bureau";
    let case_status = json!({ "type": "string", "enum": crate::cases::CaseStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>() });
    vec![
        Op {
            method: "GET",
            path: "/api/enforcement/v1/cases",
            id: "enforcementListCases",
            summary: "the token's bureau's cases in id order",
            params: vec![query_param("status", case_status, "only cases in this state"), cursor_param(), limit_param()],
            body: None,
            responses: list_responses("a page of cases", "CasePage"),
        },
        Op {
            method: "GET",
            path: "/api/enforcement/v1/cases/{id}",
            id: "enforcementGetCase",
            summary: "one of the bureau's cases",
            params: vec![case()],
            body: None,
            responses: vec![("200", ok_response("the case", "Case")), ("404", error_response(not_ours))],
        },
        Op {
            method: "GET",
            path: "/api/enforcement/v1/cases/{id}/notices",
            id: "enforcementCaseNotices",
            summary: "the notices issued for one of the bureau's cases",
            params: vec![case()],
            body: None,
            responses: vec![("200", ok_response("the notices", "CaseNotices")), ("404", error_response(not_ours))],
        },
        Op {
            method: "POST",
            path: "/api/enforcement/v1/cases/{id}/outcome",
            id: "enforcementRecordOutcome",
            summary: "the next step of the case: filed, penalised, no_penalty, transferred_to_police, closed",
            params: vec![case(), idempotency_param()],
            body: Some("OutcomeRequest"),
            responses: write_responses(
                ("200", ok_response("the case as it now is", "Case")),
                not_ours,
                &[(
                    "409",
                    "the workflow does not allow that step from the case's state, or the case changed meanwhile",
                )],
            ),
        },
        Op {
            method: "POST",
            path: "/api/enforcement/v1/cases/{id}/bundle",
            id: "enforcementSealCaseBundle",
            summary: "seal a fresh evidence bundle of the case's findings (recorded on the case)",
            params: vec![case(), idempotency_param()],
            body: None,
            responses: write_responses(
                (
                    "201",
                    linked(
                        ok_response("the bundle and where to download it", "SealedBundle"),
                        "download",
                        "enforcementDownloadBundle",
                        "bundle_id",
                        "/bundle/id",
                    ),
                ),
                not_ours,
                &[("409", "the case has no findings (`no_findings`)"), ("503", NO_SEALING)],
            ),
        },
        Op {
            method: "GET",
            path: "/api/enforcement/v1/bundles/{bundle_id}",
            id: "enforcementDownloadBundle",
            summary: "the WACZ file of a bundle sealed for one of the bureau's cases",
            params: vec![json!({
                "name": "bundle_id", "in": "path", "required": true,
                "schema": { "type": "string", "pattern": "^B[0-9]{14}-[0-9a-f]{8}$" },
                "description": "the bundle id (`B` + UTC time + `-` + 8 hex)"
            })],
            body: None,
            responses: vec![
                ("200", bundle_file_response()),
                ("400", error_response("not a bundle id")),
                ("404", error_response("no such bundle of a case in the token's bureau")),
                ("410", error_response("the bundle is recorded but its file is gone: seal a fresh one")),
            ],
        },
    ]
}

/// A bundle's file with its length and digests.
fn bundle_file_response() -> Value {
    let header =
        |description: &str, schema: Value| json!({ "description": description, "required": true, "schema": schema });
    json!({
        "description": "the bundle (a WACZ file, verifiable offline with `evidence-verify`)",
        "headers": {
            "Content-Disposition": header("attachment; filename=\"<bundle id>.wacz\"", json!({ "type": "string" })),
            "Content-Length": header("the file's size", json!({ "type": "integer", "minimum": 0 })),
            "Repr-Digest": header("RFC 9530: `sha-256=:<base64>:` of the file", json!({ "type": "string", "pattern": "^sha-256=:[A-Za-z0-9+/]{43}=:$" })),
            "X-Content-SHA256": header("the file's SHA-256 in hex, as in a notice's `evidence_sha256`", json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" }))
        },
        "content": { "application/zip": { "schema": { "type": "string", "format": "binary" } } }
    })
}

fn admin_ops() -> Vec<Op> {
    let platform = || path_param("platform", "the platform id (from the registry)");
    vec![
        Op {
            method: "GET",
            path: "/api/admin/v1/platforms/{platform}/keys",
            id: "adminListKeys",
            summary: "a platform's API keys, revoked ones included (never secrets)",
            params: vec![platform()],
            body: None,
            responses: vec![
                ("200", ok_response("the keys, oldest first", "ApiKeyList")),
                ("404", error_response("no such platform in the registry")),
            ],
        },
        Op {
            method: "POST",
            path: "/api/admin/v1/platforms/{platform}/keys",
            id: "adminIssueKey",
            summary: "a new API key for a platform; the secret is in this answer only",
            params: vec![platform(), idempotency_param()],
            body: None,
            responses: write_responses(
                ("201", ok_response("the key; a repeat of the request returns it without the secret", "IssuedApiKey")),
                "no such platform in the registry",
                &[],
            ),
        },
        Op {
            method: "DELETE",
            path: "/api/admin/v1/keys/{key_id}",
            id: "adminRevokeKey",
            summary: "revoke a platform's API key: it stops working at once",
            params: vec![path_param("key_id", "the key id"), idempotency_param()],
            body: None,
            responses: write_responses(("200", ok_response("the revoked key", "ApiKey")), "no such key", &[]),
        },
    ]
}

/// The document served at `GET /api/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/healthz".into(),
        json!({ "get": {
            "operationId": "healthz", "summary": "liveness",
            "responses": { "200": { "description": "the server is up",
                "content": { "application/json": { "schema": { "type": "object", "required": ["status"],
                    "additionalProperties": false, "properties": { "status": { "const": "ok" } } } } } } }
        } }),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({ "get": {
            "operationId": "openapi", "summary": "this document",
            "responses": { "200": { "description": "the OpenAPI document",
                "content": { "application/json": { "schema": { "type": "object" } } } } }
        } }),
    );
    for op in [platform_ops(), staff_ops(), enforcement_ops(), admin_ops()].into_iter().flatten() {
        let item = paths.entry(op.path).or_insert_with(|| json!({}));
        item[op.method.to_lowercase()] = op.to_json();
    }
    let bearer = |description: &str| json!({ "type": "http", "scheme": "bearer", "description": description });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "spotcheck API",
            "version": "1.2.0",
            "description": "The online spot-check system's API. Platforms poll delisting notices and report what they did; \
                supervision staff triage findings, follow cases, issue a case's notices and follow them up; enforcement staff \
                read their bureau's cases, record outcomes, and have a case's evidence bundle sealed and download it; admins manage platforms' API keys. Every error is {\"error\": {\"code\", \"message\"}}."
        },
        "components": {
            "securitySchemes": {
                "platformKey": bearer("a platform's API key (`sk_…`)"),
                "staffToken": bearer("a `staff` token (`sct_…`, `spotcheck tokens issue --role staff`)"),
                "enforcementToken": bearer("an `enforcement` token bound to one bureau"),
                "adminToken": bearer("an `admin` token")
            },
            "schemas": schemas()
        },
        "paths": paths
    })
}
