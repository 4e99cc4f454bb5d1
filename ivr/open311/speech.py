"""What a caller hears of a status check: the project's prompts and Asterisk's say media.

A request number is read digit by digit (``digits:``), a date as month prompt and day and year
numbers (``number:``) in the order of the caller's language. Status notes are read only when
they are one of a few short codes (`NOTE_PROMPTS`); free text from a municipality's system is
never read out, since it may hold anything.
"""

from __future__ import annotations

from datetime import date

from ivr.open311.client import Lookup
from routing_rules.decision import PromptRef, Prompts, RequestStatus, StatusResult

STATUS_PROMPTS = {
    RequestStatus.OPEN: "status-open",
    RequestStatus.IN_PROGRESS: "status-in-progress",
    RequestStatus.CLOSED: "status-closed",
}
NOTE_PROMPTS = {
    "duplicate": "status-note-duplicate",
    "duplicate request": "status-note-duplicate",
    "referred": "status-note-referred",
    "referred to another agency": "status-note-referred",
    "completed": "status-note-completed",
    "work completed": "status-note-completed",
}
"""Coded ``status_notes`` (lower case, without a final period) and the prompt that says them."""
FAILURE_PROMPTS = {
    StatusResult.NOT_FOUND: "status-not-found",
    StatusResult.SLOW: "status-unavailable",
    StatusResult.DOWN: "status-unavailable",
    StatusResult.BAD_ANSWER: "status-unavailable",
    StatusResult.NO_NUMBER: "status-no-number",
    StatusResult.TOO_LONG: "status-too-long",
}


def spoken_date(day: date, language: str) -> tuple[str, ...]:
    """A date as media: "December 2 2026" in English, "2 décembre 2026" in French."""
    month, number, year = f"month-{day.month}", f"number:{day.day}", f"number:{day.year}"
    return (number, month, year) if language.startswith("fr") else (month, number, year)


def answer_prompts(lookup: Lookup, request_id: str, language: str) -> Prompts:
    """What the caller hears of ``lookup``: the status, last update and coded notes of a
    found request, or why there is no status to give."""
    request = lookup.request
    if lookup.result is not StatusResult.FOUND or request is None:
        return (PromptRef(FAILURE_PROMPTS[lookup.result], language),)
    ids = ["status-request", f"digits:{request_id}", STATUS_PROMPTS[request.spoken_status]]
    if request.updated_datetime is not None:
        ids += ["status-updated", *spoken_date(request.updated_datetime.date(), language)]
    note = (request.status_notes or "").strip().lower().removesuffix(".")
    if note in NOTE_PROMPTS:
        ids.append(NOTE_PROMPTS[note])
    return tuple(PromptRef(i, language) for i in ids)
