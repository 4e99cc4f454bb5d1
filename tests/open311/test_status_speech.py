"""What a caller hears of a status look-up, in English and Canadian French."""

from __future__ import annotations

from datetime import datetime

from ivr.open311.client import Lookup, ServiceRequest
from ivr.open311.speech import answer_prompts
from routing_rules.decision import StatusResult


def found(**fields: object) -> Lookup:
    request = ServiceRequest.model_validate({"service_request_id": 42, "status": "open", **fields})
    return Lookup(StatusResult.FOUND, request)


def ids(lookup: Lookup, language: str = "en") -> list[str]:
    return [p.id for p in answer_prompts(lookup, "42", language)]


def test_the_date_is_read_in_the_callers_order() -> None:
    lookup = found(updated_datetime=datetime(2026, 12, 2, 10, 40).isoformat())
    assert ids(lookup)[-3:] == ["month-12", "number:2", "number:2026"]
    assert ids(lookup, "fr_CA")[-3:] == ["number:2", "month-12", "number:2026"]
    assert all(p.language == "fr_CA" for p in answer_prompts(lookup, "42", "fr_CA"))


def test_coded_notes_are_read_and_free_text_is_not() -> None:
    assert ids(found(status="closed", status_notes="Duplicate request.")) == [
        "status-request",
        "digits:42",
        "status-closed",
        "status-note-duplicate",
    ]
    free = ids(found(status_notes="Crew found a gas smell; call Jane at 905-555-0199"))
    assert free == ["status-request", "digits:42", "status-open"]
    assert ids(found(status_notes="in_progress"))[-1] == "status-in-progress"


def test_each_failure_has_its_words() -> None:
    """(No server chosen at the status menu is said with the menu's own prompts.)"""
    for result in StatusResult:
        if result not in (StatusResult.FOUND, StatusResult.NO_CHOICE):
            (prompt,) = answer_prompts(Lookup(result), "", "en")
            assert prompt.id.startswith("status-")
