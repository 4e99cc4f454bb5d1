"""The call's course once answered, top-down: ask the engine, carry out the phase of its step
(`ivr.call.phases`, `ivr.call.status`, `ivr.call.transfer`, `ivr.call.handover`), and ask again
until a step ends the call's time here (a transfer, a message) or the engine fails.

Each is a coroutine the call runs as its flow.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from dialplan.transfer_plan import TransferPlan
from ivr.call.handover import follow_taken_over, hand_over_transfer
from ivr.call.phases import greet, offer_menu, play_message
from ivr.call.status import check_status
from ivr.call.transfer import TransferResume, run_transfer
from routing_rules.decision import (
    CallContext,
    CheckStatus,
    Decision,
    OfferMenu,
    PlayGreeting,
    Transfer,
)

if TYPE_CHECKING:
    from ivr.call.machine import Call

log = structlog.get_logger(__name__)


async def run(call: Call, why: str) -> None:
    """The call, top-down once answered: carry out the engine's decisions until one ends
    the call's time here (a transfer, a message), or the engine fails."""
    while True:
        decision = decide(call)
        if decision is None:
            await call.hand_over("decision_failed")
            return
        step = decision.step
        log.debug("call.decision", step=type(step).__name__, why=why)
        if isinstance(step, PlayGreeting):
            why = await greet(call, step, decision, why)
        elif isinstance(step, OfferMenu):
            why = await offer_menu(call, step, decision, why)
        elif isinstance(step, CheckStatus):
            why = await check_status(call, step, decision, why)
        elif isinstance(step, Transfer):
            if call.settings.transfers == "dialplan":
                await hand_over_transfer(call, step, decision, why)
            else:
                await run_transfer(call, step, decision, why)
            return
        else:
            await play_message(call, step, decision, why)
            return


async def run_transfer_on(call: Call, resume: TransferResume, why: str) -> None:
    """A taken-over transfer: the engine's transfer again, from the saved link on (the
    caller is handed back when the engine now decides otherwise)."""
    decision = decide(call)
    step = decision.step if decision is not None else None
    if decision is None or not isinstance(step, Transfer) or resume.link >= len(step.chain):
        await call.hand_over("not_resumable")
        return
    await run_transfer(call, step, decision, why, resume)


async def follow_handed_over(call: Call, plan: TransferPlan, why: str, in_stasis: bool) -> None:
    """A taken-over transfer the dialplan carries out (`follow_taken_over`), told with
    the engine's transfer again."""
    await follow_taken_over(call, plan, decide(call), why, in_stasis=in_stasis)


def decide(call: Call) -> Decision | None:
    """The engine's decision on the call as it stands; None when the engine failed."""
    started = time.perf_counter()
    context = CallContext(
        dialled=call.dialled,
        calling=call.calling,
        at=call.env.clock(),
        location=call.location,
        language=call.language,
        greeting_done=call.greeting_done,
        digits=tuple(call.digits),
        status=call.status,
    )
    try:
        decision = call.env.decide(call.snapshot, context)
    except Exception:
        # The engine promises never to raise; if it does, the dialplan fallback still
        # routes the caller instead of leaving them in silence.
        log.exception("call.decision_failed")
        return None
    call.env.metrics.decision_seconds.observe(time.perf_counter() - started)
    return decision
