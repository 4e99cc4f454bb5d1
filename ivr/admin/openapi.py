"""The OpenAPI 3.1 document of the admin API, served at ``/api/openapi.json``.

Request schemas come from the pydantic models that validate the bodies, so the document and the
server cannot disagree about what a request may contain.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ivr.admin.requests import ActivateBody, ApplyBody, OverrideBody, SimulateBody, ValidateBody
from ivr.reports.build import FORMATS
from ivr.reports.period import PERIODS
from ivr.reports.render_json import schema as report_schema
from routing_rules.decision import WEBSITE_POINTS, TraceStage

JSON = "application/json"
REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(model.__name__)}}}


READ_ERRORS = {"409": _error("nothing is active yet")}
BODY_ERRORS = {
    "400": _error("the body is not a JSON object, or nests or counts beyond the limits"),
    "413": _error("the body is larger than the limit (the message says it)"),
    "415": _error("the body is compressed: send it plain"),
    "422": _error("the body does not match the schema, or the rules are invalid"),
}
AUTH_ERRORS = {
    "401": _error("no bearer token"),
    "403": _error("wrong bearer token"),
    "503": _error("no admin token is configured on the server"),
}
BEARER: list[dict[str, list[str]]] = [{"adminToken": []}]
VERSION_PARAM = {
    "name": "version",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
}

OBJECT = {"type": "object"}
VERSION_LIST = {
    "type": "object",
    "required": ["active_version", "versions", "activations"],
    "properties": {
        "active_version": {"type": ["integer", "null"]},
        "versions": {"type": "array", "items": OBJECT},
        "activations": {"type": "array", "items": OBJECT},
    },
}
CHANGE_RESULT = {
    "type": "object",
    "required": ["version", "previous_version"],
    "properties": {
        "version": {"type": "integer"},
        "previous_version": {"type": ["integer", "null"]},
    },
}
SIMULATION = {
    "type": "object",
    "required": ["outcome", "trace"],
    "properties": {
        "outcome": {
            "type": "object",
            "required": ["action", "municipality", "destination"],
            "properties": {
                "action": {"enum": ["transfer", "agent", "menu", "message", "greeting"]},
                "municipality": {"type": ["string", "null"]},
                "destination": {"type": ["string", "null"]},
            },
        },
        "trace": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["stage", "evidence", "rule", "result"],
                "properties": {
                    "stage": {"enum": [str(stage) for stage in TraceStage]},
                    **{k: {"type": "string"} for k in ("evidence", "rule", "result")},
                },
            },
        },
        "websites": {
            "type": "array",
            "description": "websites read out to the caller, in the order heard",
            "items": {
                "type": "object",
                "required": ["owner", "point", "prompt", "rule"],
                "properties": {
                    "owner": {"type": "string"},
                    "point": {"enum": list(WEBSITE_POINTS)},
                    **{k: {"type": "string"} for k in ("prompt", "rule")},
                },
            },
        },
    },
}
OVERRIDE_STATE = {
    "type": "object",
    "required": ["schedule", "active", "reason", "expires"],
    "properties": {
        "schedule": {"type": "string"},
        "active": {"type": "boolean"},
        "reason": {"type": "string"},
        "expires": {"type": ["string", "null"]},
    },
}
DRAIN_STATUS = {
    "type": "object",
    "required": ["draining", "calls_in_progress", "drained"],
    "properties": {
        "draining": {"type": "boolean"},
        "calls_in_progress": {"type": "integer", "minimum": 0},
        "drained": {"type": "boolean"},
    },
}


REPORT_PARAMETERS = [
    {
        "name": "from",
        "in": "query",
        "required": True,
        "description": "first local date",
        "schema": {"type": "string", "format": "date"},
    },
    {
        "name": "to",
        "in": "query",
        "required": True,
        "description": "last local date (included)",
        "schema": {"type": "string", "format": "date"},
    },
    {"name": "by", "in": "query", "schema": {"enum": list(PERIODS)}},
    {"name": "format", "in": "query", "schema": {"enum": list(FORMATS)}},
    {
        "name": "service_level",
        "in": "query",
        "description": "service level thresholds in seconds, comma-separated (default 20,30)",
        "schema": {"type": "string"},
    },
]


def _report_schema() -> dict[str, Any]:
    """The report's JSON Schema as a component: its own ``$defs`` pointed to in place."""
    text = json.dumps({k: v for k, v in report_schema().items() if k not in ("$schema", "$id")})
    embedded: dict[str, Any] = json.loads(
        text.replace('"#/$defs/', '"#/components/schemas/Report/$defs/')
    )
    return embedded


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
        }
    }
    for model in (ValidateBody, ApplyBody, ActivateBody, OverrideBody, SimulateBody):
        schema = model.model_json_schema(ref_template=REF, by_alias=True)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Report"] = _report_schema()
    return schemas


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ivr311 admin API",
            "version": "1",
            "description": "Rules, overrides, simulation, coverage, calls and drain of one "
            "ivr311 controller. Requests that change state need 'Authorization: Bearer <token>'; "
            "changes of the rules name an author and a reason, which the rule history keeps.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/rules": {
                "get": {
                    "summary": "Active version, every version and every activation",
                    "responses": {"200": _json(VERSION_LIST, "the history")},
                },
                "post": {
                    "summary": "Validate, store and activate a rule set as a new version",
                    "description": "Refused with 409 when base_version is not the active "
                    "version any more (someone else changed the rules meanwhile).",
                    "security": BEARER,
                    "requestBody": _body(ApplyBody),
                    "responses": {
                        "200": _json(CHANGE_RESULT, "the same content is already active"),
                        "201": _json(CHANGE_RESULT, "stored and active"),
                        "409": _error("conflict with a change activated meanwhile"),
                        **BODY_ERRORS,
                        **AUTH_ERRORS,
                    },
                },
            },
            "/api/rules/validate": {
                "post": {
                    "summary": "Check a rule set without storing it",
                    "requestBody": _body(ValidateBody),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["ok", "errors", "warnings"],
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "errors": {"type": "array"},
                                    "warnings": {"type": "array"},
                                },
                            },
                            "the report (same as `ivr311 rules validate --json`)",
                        ),
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/rules/diff": {
                "get": {
                    "summary": "Unified diff between two versions",
                    "parameters": [
                        {
                            "name": "old",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
                        },
                        {
                            "name": "new",
                            "in": "query",
                            "required": False,
                            "description": "default: the active version",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
                        },
                    ],
                    "responses": {
                        "200": _json(OBJECT, "the diff"),
                        "400": _error("bad parameter"),
                        "404": _error("no such version"),
                        **READ_ERRORS,
                    },
                }
            },
            "/api/rules/{version}": {
                "get": {
                    "summary": "One version's YAML and audit fields",
                    "parameters": [VERSION_PARAM],
                    "responses": {
                        "200": _json(OBJECT, "the version"),
                        "400": _error("bad parameter"),
                        "404": _error("no such version"),
                    },
                }
            },
            "/api/rules/{version}/activate": {
                "post": {
                    "summary": "Roll back or forward: activate a stored version",
                    "security": BEARER,
                    "parameters": [VERSION_PARAM],
                    "requestBody": _body(ActivateBody),
                    "responses": {
                        "200": _json(CHANGE_RESULT, "activated"),
                        "404": _error("no such version"),
                        "409": _error("already active, or a conflicting change"),
                        **BODY_ERRORS,
                        **AUTH_ERRORS,
                    },
                }
            },
            "/api/simulate": {
                "post": {
                    "summary": "Trace one call (same JSON as `ivr311 simulate --store --json`)",
                    "requestBody": _body(SimulateBody),
                    "responses": {
                        "200": _json(SIMULATION, "outcome and trace"),
                        "404": _error("no such version"),
                        **READ_ERRORS,
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/override": {
                "get": {
                    "summary": "The emergency override of a schedule (default: the host's)",
                    "parameters": [
                        {"name": "schedule", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json(OVERRIDE_STATE, "the override"),
                        "404": _error("no such schedule"),
                        **READ_ERRORS,
                    },
                },
                "post": {
                    "summary": "Switch the emergency override on (with expiry) or off",
                    "description": "Stored as a new rule version (versions are immutable).",
                    "security": BEARER,
                    "requestBody": _body(OverrideBody),
                    "responses": {
                        "200": _json(OVERRIDE_STATE, "already so"),
                        "201": _json(OVERRIDE_STATE, "stored as a new version"),
                        "404": _error("no such schedule"),
                        "409": _error("conflict, or nothing active"),
                        **BODY_ERRORS,
                        **AUTH_ERRORS,
                    },
                },
            },
            "/api/coverage": {
                "get": {
                    "summary": "Exchange coverage table of the active rule set",
                    "parameters": [
                        {
                            "name": "all",
                            "in": "query",
                            "description": "every known exchange, not just the rule set's",
                            "schema": {"type": "boolean"},
                        }
                    ],
                    "responses": {"200": _json(OBJECT, "the table"), **READ_ERRORS},
                }
            },
            "/api/coverage/map.svg": {
                "get": {
                    "summary": "Coverage map: municipalities, exchanges, shared zones",
                    "responses": {
                        "200": {
                            "description": "SVG",
                            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                        },
                        **READ_ERRORS,
                    },
                }
            },
            "/api/locate": {
                "get": {
                    "summary": "The municipality at a point and the route a caller there gets",
                    "parameters": [
                        {
                            "name": "lat",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "number", "minimum": -90, "maximum": 90},
                        },
                        {
                            "name": "lon",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "number", "minimum": -180, "maximum": 180},
                        },
                        {"name": "at", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json(OBJECT, "municipality and route"),
                        "400": _error("bad parameter"),
                        "422": _error("bad time"),
                        **READ_ERRORS,
                    },
                }
            },
            "/api/report": {
                "get": {
                    "summary": "Call report (KPIs) over the stored call records",
                    "description": "The figures of `ivr311 report` over a range of the host's "
                    "local dates, both included; the overlap table first. JSON follows the "
                    "Report schema (ivr/reports/report.schema.json); HTML is one self-contained "
                    "file with charts.",
                    "parameters": REPORT_PARAMETERS,
                    "responses": {
                        "200": {
                            "description": "the report in the format asked for",
                            "content": {
                                JSON: {"schema": _ref("Report")},
                                "text/plain": {"schema": {"type": "string"}},
                                "text/csv": {"schema": {"type": "string"}},
                                "text/html": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _error("bad date, range, period, format or threshold"),
                        "503": _error("the store cannot be read right now"),
                    },
                }
            },
            "/api/calls": {
                "get": {
                    "summary": "Calls in progress and the latest decision records",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        }
                    ],
                    "responses": {
                        "200": _json(OBJECT, "live and recent calls"),
                        "400": _error("bad parameter"),
                    },
                }
            },
            "/api/calls/{call_id}": {
                "get": {
                    "summary": "One call: its live state and decision record",
                    "parameters": [
                        {
                            "name": "call_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json(OBJECT, "the call"),
                        "404": _error("not live and not recent"),
                    },
                }
            },
            "/api/drain": {
                "get": {
                    "summary": "Whether the controller drains, and the calls it still has",
                    "description": "drained: draining and no call left; the process may stop.",
                    "responses": {"200": _json(DRAIN_STATUS, "where the drain stands")},
                },
                "post": {
                    "summary": "Drain: new calls go to the fallback context, calls in progress "
                    "finish",
                    "description": "The drain SIGTERM starts (IVR311_DRAIN_TIMEOUT_S, then calls "
                    "still in the IVR go to the fallback context), but the process stays up, "
                    "not ready, until it is stopped. Idempotent: a drain already started goes "
                    "on as it is.",
                    "security": BEARER,
                    "responses": {
                        "202": _json(DRAIN_STATUS, "draining"),
                        **AUTH_ERRORS,
                    },
                },
            },
        },
    }
