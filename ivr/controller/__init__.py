"""The controller process: one per Asterisk node.

- `ivr.controller.process` — `Controller`: the ARI event stream, one `ivr.call.Call` per inbound
  call, reconcile after every (re)connect, drain.
- `ivr.controller.reconcile` — the reconcile after every (re)connect: calls resumed, callers
  taken over or started afresh, conversations watched, the rest handed to the fallback context.
- `ivr.controller.registry` — `ChannelRegistry`: the channels the controller handles (calls,
  legs, adopted conversations, unconfirmed hand-backs) and its idle event.
- `ivr.controller.hand_backs` — the channels the controller itself hands to the fallback
  context, and the hand-backs Asterisk did not confirm.
- `ivr.controller.call_setup` — the settings the calls run with and the store of their records.
- `ivr.controller.rules_source` — where the rule snapshots come from and how a new active
  version reaches the process (PostgreSQL LISTEN/NOTIFY or SQLite polling).
- `ivr.controller.dialplan_sync` — rewrites and reloads the generated dialplan whenever a rule
  version becomes active.
- `ivr.controller.http` — the process's HTTP server: ``/metrics``, ``/healthz``, ``/readyz`` and
  the extension hook the admin API (`ivr.admin`) mounts itself with.
- `ivr.controller.http_boundary` — that server's one error boundary (every failure answered as
  JSON with its status, logged as one event), its body limit and security headers.
- `ivr.controller.run` — ``ivr311 run``: settings, store, HTTP server, signals, drain.
- `ivr.controller.drain_cli` — ``ivr311 drain``: asks a running controller to drain through its
  admin API and shows the calls left.
"""
