"""Durable call records: every call's decision record stored in the rule store's database.

- `entry`: a call's `DecisionRecord` as the row it is stored as (no full calling number);
- `writer`: `RecordWriter`, the bounded in-memory queue a call's end hands its record to,
  written in batches in a thread of its own; a slow or down store never holds up a call,
  records beyond the bound are dropped and counted (``ivr311_call_records_dropped_total``);
- `purge`: `RecordPurger`, which deletes records older than the retention, by itself;
- `service`: `CallRecords`, the two wired to a store, as the controller runs them.

The schema is documented in `routing_rules.storage.call_records`.
"""

from ivr.records.service import CallRecords

__all__ = ["CallRecords"]
