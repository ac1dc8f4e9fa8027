//! The `components.schemas` of the OpenAPI document: every body the API
//! sends or accepts. `required` lists what is always present and
//! `additionalProperties: false` is set where the type has no other members
//! (flattened and nested store types stay open).

use serde_json::{json, Value};

use super::errors::ApiError;
use super::request::MAX_TEXT;
use crate::cases::CaseStatus;

const DISPOSITIONS: [&str; 4] = ["delisted", "partially_delisted", "rejected", "disputed"];

/// White space as Rust's `str::trim` sees it (Unicode `White_Space`), as a
/// regex class body: the server and the document must agree on "blank".
const WHITE_SPACE: &str = "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// A string with at least one character that is not white space.
fn non_blank() -> String {
    format!("[^{WHITE_SPACE}]")
}

/// A string of white space only (or empty).
fn blank() -> String {
    format!("^[{WHITE_SPACE}]*$")
}

/// A required free text: not blank, at most [`MAX_TEXT`] characters.
fn text() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": non_blank() })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": schema_ref(name) })
}

/// An object whose members are all listed, `required` naming those always present.
fn closed(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "additionalProperties": false, "properties": properties })
}

fn platform_schemas(ts: &Value, ts_or_null: &Value) -> Value {
    json!({
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
                schema_ref("Notice"),
                { "type": "object", "required": ["status"],
                  "properties": { "status": schema_ref("NoticeStatus") } }
            ]
        },
        "NoticePage": {
            "type": "object", "required": ["notices", "next_cursor"],
            "properties": {
                "notices": array_of("Notice"),
                "next_cursor": { "type": "string", "description": "opaque; on an empty page, the cursor sent" }
            }
        },
        "Disposition": {
            "type": "object", "required": ["disposition"],
            "properties": {
                "disposition": { "type": "string", "enum": DISPOSITIONS },
                "reason": { "type": "string", "description": "present with `disputed` only" }
            }
        },
        "NoticeStatus": {
            "type": "object", "required": ["notice_id"],
            "properties": {
                "notice_id": { "type": "string" },
                "acknowledged_at": ts_or_null,
                "disposition": { "oneOf": [ schema_ref("Disposition"), { "type": "null" } ] },
                "disposition_at": ts_or_null,
                "reported_at": ts_or_null
            }
        },
        "DispositionRequest": {
            "type": "object", "required": ["disposition", "at"], "additionalProperties": false,
            "properties": {
                "disposition": { "type": "string", "enum": DISPOSITIONS },
                "reason": { "type": "string", "description": "required with `disputed`, refused otherwise (blank counts as absent)" },
                "at": { "type": "string", "format": "date-time", "description": "when the platform acted (RFC 3339)" }
            },
            "if": { "required": ["disposition"], "properties": { "disposition": { "const": "disputed" } } },
            "then": { "required": ["reason"], "properties": { "reason": { "pattern": non_blank() } } },
            "else": { "properties": { "reason": { "pattern": blank() } } }
        }
    })
}

fn finding_schemas(ts: &Value) -> Value {
    let status = json!({ "type": "string", "enum": ["open", "confirmed", "dismissed"] });
    let change = json!({ "type": "string", "enum": ["changed", "unchanged"],
                         "description": "`unchanged`: it already had that status and nothing was written" });
    json!({
        "FindingRecord": closed(
            &["id", "rule", "rule_version", "severity", "title", "message", "legal_basis", "listing", "capture", "matched"],
            json!({
                "id": { "type": "string", "description": "f + 24 hex" },
                "rule": { "type": "string" },
                "rule_version": { "type": "integer", "minimum": 0 },
                "severity": { "type": "string" },
                "title": { "type": "string" },
                "message": { "type": "string" },
                "legal_basis": { "type": "array", "items": { "type": "string" } },
                "listing": { "type": "string", "description": "platform/item_id" },
                "capture": { "type": ["string", "null"], "description": "SHA-256 of the capture record" },
                "matched": { "type": "array", "items": closed(&["field", "text"], json!({
                    "field": { "type": "string" },
                    "text": { "type": "string" },
                    "span": { "type": "array", "items": { "type": "integer", "minimum": 0 }, "minItems": 2, "maxItems": 2 },
                    "note": { "type": "string" }
                })) }
            })),
        "StatusChange": closed(&["status", "by", "at"], json!({
            "status": status, "by": { "type": "string" }, "at": ts, "reason": { "type": "string" }
        })),
        "Finding": closed(&["finding", "status", "triage", "case"], json!({
            "finding": schema_ref("FindingRecord"),
            "status": status,
            "triage": array_of("StatusChange"),
            "case": { "type": ["string", "null"], "description": "the case the finding is in" }
        })),
        "FindingPage": closed(&["findings", "next_cursor"], json!({
            "findings": array_of("Finding"),
            "next_cursor": { "type": ["string", "null"], "description": "pass back as `cursor`; null at the end" }
        })),
        "ConfirmRequest": closed(&[], json!({
            "note": { "type": "string", "maxLength": MAX_TEXT, "description": "recorded with the confirmation" }
        })),
        "DismissRequest": closed(&["reason"], json!({
            "reason": { "allOf": [ text() ], "description": "why it is a false positive (feeds the rule's false-positive rate)" }
        })),
        "MergeReason": {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false,
            "properties": {
                "same_uscc": { "type": "string" }, "same_shop": { "type": "string" }, "same_product": { "type": "string" }
            }
        },
        "Assigned": closed(&["case", "opened", "already"], json!({
            "case": { "type": "string" },
            "opened": { "type": "boolean", "description": "a new case was opened for it" },
            "reason": schema_ref("MergeReason"),
            "already": { "type": "boolean", "description": "it was in the case before this request" }
        })),
        "Confirmed": closed(&["finding", "change", "case"], json!({
            "finding": { "type": "string" }, "change": change, "case": schema_ref("Assigned")
        })),
        "Dismissed": closed(&["finding", "change", "status"], json!({
            "finding": { "type": "string" }, "change": change, "status": { "const": "dismissed" }
        })),
        "RuleStats": closed(&["rules"], json!({ "rules": { "type": "array", "items": closed(
            &["rule", "open", "confirmed", "dismissed", "false_positive_rate"],
            json!({
                "rule": { "type": "string" },
                "open": { "type": "integer", "minimum": 0 },
                "confirmed": { "type": "integer", "minimum": 0 },
                "dismissed": { "type": "integer", "minimum": 0 },
                "false_positive_rate": { "type": ["number", "null"], "minimum": 0, "maximum": 1,
                    "description": "dismissed / (confirmed + dismissed); null until something was triaged" }
            })) } }))
    })
}

fn case_schemas(ts: &Value) -> Value {
    let statuses: Vec<&str> = CaseStatus::ALL.iter().map(|s| s.as_str()).collect();
    let outcomes: Vec<&str> = statuses.iter().copied().filter(|s| *s != "opened").collect();
    let string = json!({ "type": "string" });
    json!({
        "Bureau": closed(&["code", "name"], json!({ "code": string, "name": string })),
        "Routing": closed(&["basis", "bureau", "reason"], json!({
            "basis": { "type": "string", "enum": ["address", "uscc", "default"] },
            "area_code": string, "from": string,
            "matched": { "type": "array", "items": string },
            "bureau": schema_ref("Bureau"), "reason": string
        })),
        "Case": closed(
            &["id", "opened_at", "status", "bureau", "routing", "shops", "usccs", "products", "findings", "merges", "audit"],
            json!({
                "id": { "type": "string", "description": "C + YYYYMMDD + - + 8 hex" },
                "opened_at": ts,
                "status": { "type": "string", "enum": statuses },
                "bureau": schema_ref("Bureau"),
                "routing": schema_ref("Routing"),
                "shops": { "type": "array", "items": closed(&["key", "routing"], json!({
                    "key": string,
                    "shop": { "type": "object", "description": "the shop as last stored" },
                    "routing": schema_ref("Routing")
                })) },
                "usccs": { "type": "array", "items": string },
                "products": { "type": "array", "items": string },
                "findings": { "type": "array", "items": closed(&["id", "rule", "listing", "at"], json!({
                    "id": string, "rule": string, "listing": string, "shop": string, "product": string, "at": ts
                })) },
                "merges": { "type": "array", "items": closed(&["finding", "reason", "routed_to", "by", "at"], json!({
                    "finding": string, "reason": schema_ref("MergeReason"), "routed_to": schema_ref("Bureau"),
                    "by": string, "at": ts
                })) },
                "audit": { "type": "array", "items": closed(&["at", "by", "action"], json!({
                    "at": ts, "by": string, "action": string, "detail": string
                })) }
            })),
        "CasePage": closed(&["cases", "next_cursor"], json!({
            "cases": array_of("Case"),
            "next_cursor": { "type": ["string", "null"], "description": "pass back as `cursor`; null at the end" }
        })),
        "OutcomeRequest": closed(&["status", "note"], json!({
            "status": { "type": "string", "enum": outcomes },
            "note": { "allOf": [ text() ], "description": "what was decided and on what (document number, reasons)" }
        })),
        "StaffNotice": {
            "allOf": [
                schema_ref("Notice"),
                { "type": "object", "required": ["status", "overdue"], "properties": {
                    "status": schema_ref("NoticeStatus"),
                    "overdue": { "type": "boolean", "description": "past its deadline with no disposition" } } }
            ]
        },
        "StaffNoticePage": closed(&["notices", "next_cursor"], json!({
            "notices": array_of("StaffNotice"),
            "next_cursor": { "type": "string", "description": "opaque; on an empty page, the cursor sent" }
        })),
        "CaseNotices": closed(&["notices"], json!({ "notices": array_of("StaffNotice") }))
    })
}

fn bundle_schemas() -> Value {
    let count = json!({ "type": "integer", "minimum": 0 });
    json!({
        "Bundle": closed(
            &["id", "sha256", "bytes", "files", "captures", "findings", "ledger_entries", "timestamp_tokens", "pdf"],
            json!({
                "id": { "type": "string", "pattern": "^B[0-9]{14}-[0-9a-f]{8}$" },
                "sha256": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$", "description": "of the whole file" },
                "bytes": count, "files": count, "captures": count, "findings": count,
                "ledger_entries": count, "timestamp_tokens": count,
                "pdf": { "type": "boolean", "description": "the report is in the bundle as PDF too" }
            })),
        "IssueNoticesRequest": closed(&[], json!({
            "deadline_hours": { "type": "integer", "minimum": 1, "maximum": 720, "default": 72,
                                "description": "hours the platforms have to act" }
        })),
        "IssuedNotices": closed(&["case", "bundle", "notices", "already"], json!({
            "case": { "type": "string" },
            "bundle": { "oneOf": [ schema_ref("Bundle"), { "type": "null" } ],
                        "description": "sealed for these notices; null when the case had notices already" },
            "notices": array_of("Notice"),
            "already": { "type": "integer", "minimum": 0, "description": "notices of the case issued before" }
        })),
        "SealedBundle": closed(&["bundle", "download"], json!({
            "bundle": schema_ref("Bundle"),
            "download": { "type": "string", "description": "GET it with the same token" }
        }))
    })
}

fn follow_up_schemas(ts: &Value, ts_or_null: &Value) -> Value {
    let string = json!({ "type": "string" });
    let verdict = json!({ "type": "string", "enum": ["verified", "not_effective", "relisted", "inconclusive"] });
    json!({
        "FollowUp": closed(
            &["notice_id", "case_id", "verdict", "last_check_at", "last_conclusive_at", "checks", "overdue_at",
              "dispute_recorded_at", "escalated_at"],
            json!({
                "notice_id": string, "case_id": string,
                "verdict": { "oneOf": [ verdict, { "type": "null" } ], "description": "the latest conclusive verdict" },
                "last_check_at": ts_or_null, "last_conclusive_at": ts_or_null,
                "checks": { "type": "integer", "minimum": 0 },
                "overdue_at": ts_or_null, "dispute_recorded_at": ts_or_null, "escalated_at": ts_or_null
            })),
        "NoticeCheck": closed(&["notice_id", "case_id", "platform", "at", "reason", "verdict", "listings"], json!({
            "notice_id": string, "case_id": string, "platform": string, "at": ts,
            "reason": { "type": "string", "enum": ["reported", "rejected", "deadline", "relisting"] },
            "verdict": verdict,
            "listings": { "type": "array", "items": {
                "type": "object", "required": ["url", "item_id", "capture", "state"],
                "properties": {
                    "url": string, "item_id": string,
                    "capture": { "type": ["string", "null"], "description": "the re-crawl's capture" },
                    "state": { "type": "string", "enum": ["gone", "on_sale", "unclear"] }
                } } }
        })),
        "StaffNoticeDetail": {
            "allOf": [
                schema_ref("StaffNotice"),
                { "type": "object", "required": ["follow_up", "checks"], "properties": {
                    "follow_up": schema_ref("FollowUp"),
                    "checks": array_of("NoticeCheck") } }
            ]
        }
    })
}

fn key_schemas(ts: &Value, ts_or_null: &Value) -> Value {
    let string = json!({ "type": "string" });
    json!({
        "ApiKey": closed(&["key_id", "platform", "created_at", "revoked_at"], json!({
            "key_id": string, "platform": string, "created_at": ts, "revoked_at": ts_or_null
        })),
        "ApiKeyList": closed(&["keys"], json!({ "keys": array_of("ApiKey") })),
        "IssuedApiKey": closed(&["key_id", "platform", "created_at"], json!({
            "key_id": string, "platform": string, "created_at": ts,
            "secret": { "type": "string", "description": "the bearer secret: in the first answer only, never stored" }
        }))
    })
}

/// Every schema of the document.
pub fn schemas() -> Value {
    let ts = json!({ "type": "string", "format": "date-time" });
    let ts_or_null = json!({ "type": ["string", "null"], "format": "date-time" });
    let mut all = serde_json::Map::new();
    all.insert(
        "Error".into(),
        closed(
            &["error"],
            json!({ "error": closed(&["code", "message"], json!({
                "code": { "type": "string", "enum": ApiError::CODES },
                "message": { "type": "string" }
            })) }),
        ),
    );
    for group in [
        platform_schemas(&ts, &ts_or_null),
        finding_schemas(&ts),
        case_schemas(&ts),
        bundle_schemas(),
        follow_up_schemas(&ts, &ts_or_null),
        key_schemas(&ts, &ts_or_null),
    ] {
        if let Value::Object(map) = group {
            all.extend(map);
        }
    }
    Value::Object(all)
}
