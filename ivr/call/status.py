"""The status-check phase of a call: the caller keys a request number and hears its status.

The caller keys digits and ends with #; no key for the engine's digit time-out ends the
number too. More digits than a request number has (`CheckStatus.max_digits`) end the entry at
once: the caller is told the number is too long. The look-up itself is the environment's
(`CallEnvironment.status_lookup`), bounded by the rules' budget; it runs outside the call's
lock, so a caller who hangs up meanwhile ends the call at once and the look-up is cancelled.
After a found request the caller may press 0 for an agent (the answer, or "" for none, joins
the call's digits); after anything else the engine routes the caller to a person. A caller who
chose no server at the status menu hears why and goes on to a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.call.flow import CallerKey, Expired
from ivr.call.phases import key_after_prompts, key_during
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
    if step.owner_id is None or step.service is None:
        call.status = StatusResult.NO_CHOICE
        call.note(StatusChecked("", str(StatusResult.NO_CHOICE)))
        await call.play_through(call.call_id, step.unchosen)
        return f"status check: {StatusResult.NO_CHOICE}"
    keyed = await _request_number(call, step)
    if keyed is None:
        lookup = Lookup(StatusResult.TOO_LONG)
    elif not keyed:
        lookup = Lookup(StatusResult.NO_NUMBER)
    else:
        lookup = await call.outside_lock(call.env.status_lookup(step.owner_id, step.service, keyed))
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
    first = await key_during(call, (PromptRef("status-ask", step.prompt_language),))
    if first == END_KEY:
        return ""
    if first is not None:
        digits.append(first)
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
