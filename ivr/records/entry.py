"""A call's `DecisionRecord` as the row it is stored as (`StoredCall`).

The record carries the calling number only in its redacted form (the NPA-NXX and a keyed hash,
as in the logs), so the row cannot hold more. Times are stored in UTC, with the host's local
date, hour and weekday beside them for reports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from geo.calling_number import redacted_parts
from ivr.call.record import DecisionRecord
from routing_rules.storage.call_records import StoredAttempt, StoredCall

DIGITS_SEPARATOR = ","


def stored_call(record: DecisionRecord, zone: ZoneInfo) -> StoredCall:
    """The row of ``record``; ``zone`` is the host's time zone (a start time without an
    offset is read in it)."""
    started = datetime.fromisoformat(record.started_at)
    if started.tzinfo is None:
        started = started.replace(tzinfo=zone)
    local = started.astimezone(zone)
    npa_nxx, digest, failure = redacted_parts(record.caller)
    durations = record.durations
    return StoredCall(
        call_id=record.call_id,
        started_at=started.astimezone(UTC),
        local_date=local.date(),
        local_hour=local.hour,
        local_weekday=local.weekday(),
        dialled=record.dialled,
        number_kind=record.number_kind,
        caller_npa_nxx=npa_nxx,
        caller_hash=digest,
        caller_failure=failure,
        language=record.language,
        greeting_skipped=record.greeting_skipped,
        zero_out=record.zero_out,
        after_hours=record.after_hours,
        menu=record.menu,
        evidence=record.evidence,
        rule=record.rule,
        route_kind=record.kind,
        municipality=record.municipality,
        destination=record.destination,
        digits=DIGITS_SEPARATOR.join(record.digits),
        outcome=record.outcome,
        abandoned_in=record.abandoned_in,
        answer_to_person_s=durations.get("answer_to_person_s"),
        total_s=durations.get("total_s"),
        bridged_s=durations.get("bridged_s"),
        rules_version=record.rules_version,
        rules_hash=record.rules_hash,
        status_check=record.status_check,
        attempt_list=tuple(
            StoredAttempt(a.destination, a.result, a.ring_s) for a in record.attempts
        ),
    )
