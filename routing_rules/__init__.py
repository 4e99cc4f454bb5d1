"""Routing rules: the rule-set schema, versioned storage, schedules and the decision engine.

Entry points:

- ``routing_rules.engine``: ``decide(snapshot, ctx)``, the decision engine. Its stages walk one
  ``routing_rules.call_walk.CallWalk``, each in its own module: ``residence_stage``,
  ``status_stage``, ``menu_stage`` and ``transfer_stage``.
- ``routing_rules.decision``: its types only: the call facts (``CallContext``), the steps
  (``PlayGreeting``, ``OfferMenu``, ``Transfer``, ``PlayMessage``) and the ``Decision`` with its
  typed trace (``TraceStage``), ``Evidence`` and ``after_hours``.
- ``routing_rules.policy``: the routing policy the engine, the fallback dialplan and the AGI
  share (residence, unknown callers, menu defaults, routes, chains, caller id, dial strings).
- ``routing_rules.snapshot``: ``load_snapshot("durham" | "cape-breton" | path, geo)`` and
  ``snapshot_from_text``; a ``RuleSnapshot`` is immutable and bound to its geodata.
- ``routing_rules.storage.store``: ``RuleStore.open(url)`` with ``apply``, ``rollback``,
  ``history``-style reads, ``active_version()`` and ``load_snapshot(geo)``; what it refuses is
  raised as ``routing_rules.storage.errors`` (``StoreError`` and its kinds).
- ``routing_rules.storage.notify``: ``watch_active_version(store)``, an async iterator of newly
  activated versions (PostgreSQL LISTEN/NOTIFY, SQLite polling).
- ``routing_rules.validation``: ``validate_text(text, geo)``, every problem with its field path.
  It reads the YAML with ``routing_rules.rulefile`` (bounded, duplicate keys refused, every
  fault located), salvages what passed the schema with ``routing_rules.salvage``, and checks the
  file as a whole with ``routing_rules.crosschecks``. ``routing_rules.limits`` holds the input
  limits every entry point applies.
- ``routing_rules.simulate``: one call without a phone.
- The command line: ``routing_rules.cli`` (``ivr311 rules ...``), ``routing_rules.simulate_cli``
  (``ivr311 simulate``) and ``routing_rules.cli_output`` (exit codes and wording).
"""
