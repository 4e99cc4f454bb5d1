"""The status-check phase of a call: the caller keys a request number and hears its status.

The caller keys digits and ends with #; no key for the engine's digit time-out ends the
number too. More digits than a request number has (`CheckStatus.max_digits`) end the entry at
once: the caller is told the number is too long. The look-up itself is the environment's
(`CallEnvironment.status_lookup`), bounded by the rules' budget; the flow awaits it, so the
call's other events wait at most that long. After a found request the caller may press 0 for
an agent (the answer, or "" for none, joins the call's digits); after anything else the
engine routes the caller to a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.call.flow import CallerKey, Expired, PromptsDone
from ivr.call.phases import key_after_prompts
from ivr.call.states import CallState, StatusChecked
from ivr.open311.client import Lookup
from ivr.open311.speech import answer_prompts
from routing_rules.decision import CheckStatus, Decision, PromptRef, StatusResult

if TYPE_CHECKING:
    from ivr.call.machine import Call

END_KEY = "#"


async def check_status(call: Call, step: CheckStatus, decision: Decision, why: str) -> str:
    """Ask for the number, look it up, speak the answer, offer an agent."""
    call.enter(CallState.STATUS, why, decision=decision)
    language = step.prompt_language
    keyed = await _request_number(call, step)
    if keyed is None:
        lookup = Lookup(StatusResult.TOO_LONG)
    elif not keyed:
        lookup = Lookup(StatusResult.NO_NUMBER)
    else:
        lookup = await call.env.status_lookup(step.owner_id, step.service, keyed)
    call.status = lookup.result
    call.note(StatusChecked(step.owner_id, str(lookup.result)))
    answer = answer_prompts(lookup, keyed or "", language)
    if lookup.result is not StatusResult.FOUND:
        await call.play_through(call.call_id, answer)
        call.digits.append("")
        return f"status check: {lookup.result}"
    offer = (*answer, PromptRef("status-agent-offer", language))
    key = await key_after_prompts(call, offer, "status", step.digit_timeout_s)
    call.digits.append(key or "")
    return f"status check: {lookup.result}"


async def _request_number(call: Call, step: CheckStatus) -> str | None:
    """The digits keyed before #, or the time-out ("" for none); None when too many."""
    digits: list[str] = []
    if await call.play(call.call_id, (PromptRef("status-ask", step.prompt_language),)):
        while not isinstance(event := await call.receive(), PromptsDone):
            if isinstance(event, CallerKey):
                await call.stop_prompts()
                if event.digit == END_KEY:
                    return ""
                digits.append(event.digit)
                break
    while True:
        if len(digits) > step.max_digits:
            return None
        with call.timer("status", step.digit_timeout_s):
            event = await call.receive()
        if isinstance(event, Expired):
            return "".join(digits)
        if isinstance(event, CallerKey):
            if event.digit == END_KEY:
                return "".join(digits)
            if event.digit.isdigit():
                digits.append(event.digit)
