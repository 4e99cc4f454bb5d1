"""One call through the decision engine without a phone: the trace and where the call ends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from routing_rules.decision import (
    CallContext,
    CheckStatus,
    Decision,
    OfferMenu,
    PlayGreeting,
    PlayMessage,
    PromptRef,
    Prompts,
    StatusResult,
    Transfer,
)
from routing_rules.engine import decide
from routing_rules.schedules import check_evaluated_year
from routing_rules.snapshot import RuleSnapshot

TIMEOUT_WORDS = frozenset({"", "t", "timeout"})


@dataclass(frozen=True, slots=True)
class Simulation:
    """The caller's journey: the greeting decision, then the decision after the given keys."""

    context: CallContext
    greeting: Decision
    decision: Decision


def host_zone(snapshot: RuleSnapshot) -> ZoneInfo:
    rules = snapshot.rules
    return ZoneInfo(rules.schedules[rules.host.schedule].timezone)


def parse_at(value: str | None, snapshot: RuleSnapshot) -> datetime:
    """ISO time; without an offset it is the host's wall-clock time. ``None`` means now."""
    if value is None:
        return datetime.now(UTC).astimezone(host_zone(snapshot))
    moment = check_evaluated_year(datetime.fromisoformat(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=host_zone(snapshot))


def parse_presses(values: Iterable[str]) -> tuple[str, ...]:
    """``["2"]``, ``["7,t,1"]`` or ``["7", "timeout"]`` → menu entries; t/timeout = no input."""
    entries: list[str] = []
    for value in values:
        for part in value.split(","):
            word = part.strip()
            entries.append("" if word.lower() in TIMEOUT_WORDS else word)
    return tuple(entries)


def simulate_call(
    snapshot: RuleSnapshot,
    *,
    calling: str | None,
    at: datetime,
    dialled: str = "311",
    location: tuple[float, float] | None = None,
    language: str = "en",
    greeting_key: str | None = None,
    presses: Sequence[str] = (),
    status: StatusResult | None = None,
) -> Simulation:
    """Play the call as the controller would: greeting first, then menus consume ``presses``.

    ``greeting_key`` is a key pressed during the greeting: the agent key asks for a live agent,
    a language key switches language, the status key asks for a request's status, any other key
    just skips the greeting. After the status key, the first of ``presses`` picks the server
    when the status menu is offered; ``status`` is how that status check ended, and the next
    of ``presses`` then answers the offer of an agent.
    """
    ctx = CallContext(dialled=dialled, calling=calling, at=at, location=location, language=language)
    greeting = decide(snapshot, ctx)
    digits = list(presses)
    if isinstance(greeting.step, PlayGreeting) and greeting_key is not None:
        if greeting_key in (greeting.step.agent_key, greeting.step.status_key):
            digits.insert(0, greeting_key)
        elif greeting_key in greeting.step.language_keys:
            language = greeting.step.language_keys[greeting_key]
    final_ctx = replace(
        ctx, greeting_done=True, digits=tuple(digits), language=language, status=status
    )
    return Simulation(final_ctx, greeting, decide(snapshot, final_ctx))


def outcome(decision: Decision) -> dict[str, object]:
    """Where the call ends: ``action`` is transfer, agent, menu or message."""
    step = decision.step
    if isinstance(step, Transfer):
        first = step.chain[0] if step.chain else None
        action = "agent" if step.kind == "agent" else "transfer"
        if first is None:
            action = "message"
        return {
            "action": action,
            "kind": step.kind,
            "municipality": step.municipality_id,
            "destination": first.destination_id if first else None,
            "dial": first.dial if first else None,
            "chain": [t.destination_id for t in step.chain],
        }
    if isinstance(step, OfferMenu):
        return {
            "action": "menu",
            "municipality": None,
            "destination": None,
            "menu": step.menu_id,
            "options": {o.digit: o.municipality_id for o in step.options},
            "attempt": step.attempt,
        }
    if isinstance(step, PlayMessage):
        return {"action": "message", "municipality": None, "destination": None}
    if isinstance(step, CheckStatus):
        return {
            "action": "status_check",
            "municipality": step.owner_id,
            "destination": None,
            "server": str(step.service.base_url) if step.service is not None else None,
        }
    return {"action": "greeting", "municipality": None, "destination": None}


def as_json(sim: Simulation, snapshot: RuleSnapshot) -> dict[str, object]:
    return {
        "outcome": outcome(sim.decision),
        "trace": [
            {"stage": str(t.stage), "evidence": t.evidence, "rule": t.rule, "result": t.result}
            for t in sim.decision.trace
        ],
        "prompts": [p.id for p in _played(sim.decision)],
        "websites": [
            {"owner": w.owner_id, "point": w.point, "prompt": w.prompt.id, "rule": w.rule}
            for w in sim.decision.websites
        ],
        "rules": {
            "source": snapshot.source,
            "version": snapshot.version,
            "content_hash": snapshot.content_hash,
        },
    }


def _played(decision: Decision) -> Prompts:
    step = decision.step
    if isinstance(step, Transfer):
        return step.announce
    if isinstance(step, CheckStatus):
        if step.service is None:
            return step.unchosen
        return (PromptRef("status-ask", step.prompt_language),)
    return step.prompts


def render_text(sim: Simulation, snapshot: RuleSnapshot) -> str:
    ctx = sim.context
    local = ctx.at.astimezone(host_zone(snapshot))
    lines = [
        f"rules: {snapshot.source} ({snapshot.rules.host.name.en}), "
        f"hash {snapshot.content_hash[:12]}",
        f"call: {ctx.dialled} at {local:%a %Y-%m-%d %H:%M %Z}, language {ctx.language}"
        + (f", keys {','.join(d or 't' for d in ctx.digits)}" if ctx.digits else ""),
    ]
    width = max(len(t.stage) for t in sim.decision.trace)
    for n, t in enumerate(sim.decision.trace, start=1):
        lines.append(f"{n:>2}. {t.stage:<{width}}  {t.evidence}")
        lines.append(f"    {'':<{width}}  → {t.result}   [{t.rule}]")
    lines.append(_describe(sim.decision))
    return "\n".join(lines)


def _describe(decision: Decision) -> str:
    step = decision.step
    if isinstance(step, Transfer):
        if not step.chain:
            return "outcome: message " + " ".join(p.id for p in step.final_message)
        first = step.chain[0]
        who = f" (resident of {step.municipality_id})" if step.municipality_id else ""
        links = " → ".join(f"{t.label} {t.dial}" for t in step.chain)
        return (
            f"outcome: {step.kind} transfer{who}: {links}; "
            f"whisper: {first.whisper_text}; if all fail: "
            + " ".join(p.id for p in step.final_message)
        )
    if isinstance(step, OfferMenu):
        options = ", ".join(f"{o.digit} {o.label}" for o in step.options)
        return f"outcome: waiting at menu {step.menu_id} ({options}); give --press to choose"
    if isinstance(step, PlayMessage):
        return "outcome: message " + " ".join(p.id for p in step.prompts) + ", then hang up"
    if isinstance(step, CheckStatus):
        if step.service is None:
            return "outcome: status check: no server chosen at the status menu; then a person"
        return f"outcome: status check on {step.owner_id}'s Open311 server {step.service.base_url}"
    return "outcome: greeting"
