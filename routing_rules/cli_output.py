"""How the ``ivr311`` command words its answers: exit codes, refusals and summaries.

Exit codes, the same for every sub-command: 0 success, 1 refused (a missing or unreadable file,
an unknown version, a store that cannot be used, a controller that cannot be reached or refuses,
calls left after ``drain --wait --timeout``), 2 invalid input (a rule set, geodata, a
setting or an argument), 3 conflict with a change activated in the meantime, 4 the version is
active but a step after the activation failed (the dialplan could not be written or reloaded),
70 a fault in ivr311 itself, 130 interrupted.
"""

from __future__ import annotations

import sys

from pydantic import HttpUrl

from routing_rules.schema import HOST_AGENTS, RuleSet
from routing_rules.storage.errors import ConflictError
from routing_rules.storage.store import StoredVersion
from routing_rules.validation import RuleSetInvalid, ValidationReport

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_CONFLICT = 3
EXIT_AFTER_ACTIVATION = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_REFUSED) -> int:
    """Print ``error: message`` on stderr and return ``code``."""
    print(f"error: {message}", file=sys.stderr)
    return code


def print_invalid(exc: RuleSetInvalid) -> int:
    """Every error of a refused rule set, one a line, on stderr; returns :data:`EXIT_INVALID`."""
    for problem in exc.report.errors:
        print(f"{exc.source}: {problem}", file=sys.stderr)
    print(f"{exc.source}: {len(exc.report.errors)} error(s); nothing changed", file=sys.stderr)
    return EXIT_INVALID


def conflict_message(exc: ConflictError) -> str:
    """What an admin whose change lost a race reads, and what to do about it."""
    if exc.active is None:
        again = (
            "export the active version, merge your change into it and apply again with --base "
            "and its number"
        )
    else:
        again = (
            f"export version {exc.active}, merge your change into it and apply again with "
            f"--base {exc.active}"
        )
    return f"{exc.situation()}; {again}"


def report_json(report: ValidationReport) -> dict[str, object]:
    """A validation report as ``rules validate --json`` prints it."""
    return {
        "ok": report.ok,
        "errors": [{"path": p.path, "message": p.message} for p in report.errors],
        "warnings": [{"path": p.path, "message": p.message} for p in report.warnings],
        "status_check": {
            who: {"base_url": server_shown(service.base_url), "key": service.key}
            for who, service in (report.rules.status_checks() if report.rules else {}).items()
        },
        "website_heard": {
            who: list(points)
            for who, points in (report.rules.websites_heard() if report.rules else {}).items()
        },
    }


def report_lines(source: str, report: ValidationReport) -> list[str]:
    """A validation report as ``rules validate`` prints it: errors, warnings, a verdict."""
    lines = [f"{source}: error: {problem}" for problem in report.errors]
    lines += [f"{source}: warning: {problem}" for problem in report.warnings]
    if report.rules is not None:
        lines += [f"{source}: {line}" for line in self_service_lines(report.rules)]
    verdict = "valid" if report.ok else f"{len(report.errors)} error(s)"
    lines.append(f"{source}: {verdict}, {len(report.warnings)} warning(s)")
    return lines


def self_service_lines(rules: RuleSet) -> list[str]:
    """Who offers a request status check (key, budget, server; never the API key) and whose
    website is read out where: ``rules validate`` and ``rules show`` both say it so."""
    offers = rules.status_checks()
    listed = ", ".join(
        f"{who} (key {s.key}, budget {s.budget_ms} ms, {server_shown(s.base_url)})"
        for who, s in offers.items()
    )
    heard = rules.websites_heard()
    points = "; ".join(f"{who} ({', '.join(at)})" for who, at in heard.items())
    return [
        f"request status check (Open311): {listed or 'not offered'}",
        f"website read out: {points or 'nowhere'}",
    ]


def server_shown(url: HttpUrl) -> str:
    """A server's address as printed: without a user name, password or query, where a
    credential could hide."""
    port = f":{url.port}" if url.port is not None and url.port != _DEFAULT_PORTS[url.scheme] else ""
    return f"{url.scheme}://{url.host}{port}{url.path or '/'}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def version_line(v: StoredVersion, active: int | None) -> str:
    mark = "*" if v.version == active else " "
    return (
        f" {mark}{v.version:>4}  {v.created_at:%Y-%m-%d %H:%M:%S}Z  {v.author:<12} "
        f"{v.content_hash[:12]}  base {v.base_version or '-':<4} {v.comment}"
    )


def describe_rules(rules: RuleSet) -> list[str]:
    """A readable summary of a rule set (``rules show``)."""
    host = rules.host
    numbers = ", ".join(f"{n.number} ({n.kind})" for n in host.numbers)
    lines = [
        f"host: {host.name.en} [{host.id}], {host.province}; numbers: {numbers}",
        f"  hours: schedule {host.schedule}; agents: {host.agents}; after hours: "
        f"{rules.after_hours.destination or 'message only'}",
        f"exchanges ({len(rules.exchanges)}): {', '.join(rules.exchanges)}",
        f"overlap: dominant at {rules.overlap_policy.dominance_share:.0%}, up to "
        f"{rules.overlap_policy.max_menu_options} menu options, unknown callers: "
        f"{rules.overlap_policy.unknown_caller}, no choice: {rules.overlap_policy.default_choice}",
        "municipalities:",
    ]
    for mun in rules.municipalities:
        model = (
            f", participation model {mun.participation_model}" if mun.participation_model else ""
        )
        dests = ", ".join(f"{d.id} {d.dial} [{d.schedule}]" for d in mun.destinations)
        lines.append(f"  {mun.id:<24} {mun.role:<9} {dests or HOST_AGENTS}{model}")
    lines += self_service_lines(rules)
    lines.append("schedules:")
    for name, sched in rules.schedules.items():
        if sched.always_open:
            hours = "24/7"
        else:
            hours = "; ".join(
                f"{','.join(p.days)} {p.open:%H:%M}-{p.close:%H:%M}" for p in sched.weekly
            )
        extras = []
        if sched.holidays:
            extras.append(f"holidays {sched.holidays.country}-{sched.holidays.subdivision}")
        if sched.extra_closures:
            extras.append(f"{len(sched.extra_closures)} extra closure(s)")
        if sched.exceptions:
            extras.append(f"{len(sched.exceptions)} exceptional period(s)")
        override = sched.emergency_override
        if override is not None and override.active:
            extras.append(f"EMERGENCY OVERRIDE: {override.reason}")
        lines.append(f"  {name:<24} {sched.timezone}  {hours}  {'; '.join(extras)}".rstrip())
    if rules.arrangements:
        lines.append("arrangements:")
        for arr in rules.arrangements:
            until = arr.effective_until or "open-ended"
            lines.append(
                f"  {arr.id:<24} {arr.municipality} → {arr.route}, {arr.effective_from} to {until}"
            )
    return lines
