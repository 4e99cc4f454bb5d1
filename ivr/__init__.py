"""The ARI call controller, grouped by feature:

- `ivr.controller` — the process: the controller, reconcile and drain, where its rules come
  from, dialplan sync, its HTTP server (metrics, health) and ``ivr311 run``;
- `ivr.call` — one state machine per call, warm transfer, the decision record;
- `ivr.ari` — the in-house ARI client: REST, event stream, per-call dispatch;
- `ivr.admin` — the admin API and page, mounted on the controller's HTTP server
  (its static files are in ``ivr/static/``);
- `ivr.agi` — ``ivr311-agi``, routing answers for sites that keep their own dialplan.

Shared by them at the top: `ivr.settings` (``IVR311_*`` settings), `ivr.metrics` (the
Prometheus registry) and `ivr.logs` (structured logging). The simulated switch the controller
runs on without an Asterisk is `switchsim`, outside this package; the ``ivr311`` command is
wired together in `ivr311.cli`.
"""
