"""The phases of a call before (or instead of) a transfer: the answer, the greeting, a menu,
a message.

Each is a coroutine of the call's flow. The greeting, a menu and a message enter their state,
play their prompts and wait for what ends them: the greeting and a menu return why the call
goes on (the next decision's ``why``), having noted the key that ended them; a message ends the
call.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import structlog

from ivr.ari.errors import AriError
from ivr.call.flow import CallerKey, Expired, PromptsDone
from ivr.call.states import MESSAGE_PLAYED, CallState, KeyPress
from routing_rules.decision import Decision, OfferMenu, PlayGreeting, PlayMessage, PromptRef

if TYPE_CHECKING:
    from ivr.call.machine import Call

log = structlog.get_logger(__name__)

LOCATION_VARIABLE = "IVR311_LOCATION"
"""Channel variable carrying a location delivered with the call, as ``"lat,lon"``."""


async def read_location(call: Call) -> None:
    """The location delivered with the call: from the StasisStart channel variables when
    Asterisk sends them (``channelvars`` in ari.conf), else asked for."""
    if call.channelvars is not None:
        raw = call.channelvars.get(LOCATION_VARIABLE)
    else:
        try:
            raw = await call.ari.get_variable(call.call_id, LOCATION_VARIABLE)
        except AriError:
            return
    if not raw:
        return
    lat_text, _, lon_text = raw.partition(",")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        log.warning("call.location_malformed")
        return
    if math.isfinite(lat) and math.isfinite(lon):
        call.location = (lat, lon)


async def greet(call: Call, step: PlayGreeting, decision: Decision, why: str) -> str:
    """Play the greeting until it ends or a key cuts it short: 0 for an agent, a language key
    to switch language, the status key for a request's status, any other key to skip it."""
    call.enter(CallState.GREETING, why, decision=decision)
    digit = await key_during(call, step.prompts)
    if digit is not None and digit in step.language_keys:
        switched = _greeting_key(call, step, digit)
        follow_up = step.language_follow_up.get(digit, ())
        digit = await key_during(call, follow_up)
        if digit is None or digit in step.language_keys:
            call.greeting_done = True
            return switched
    call.greeting_done = True
    return "greeting heard" if digit is None else _greeting_key(call, step, digit)


async def key_during(call: Call, prompts: tuple[PromptRef, ...]) -> str | None:
    """Play ``prompts`` until they end (None) or a key cuts them short (the key)."""
    if await call.play(call.call_id, prompts):
        while not isinstance(event := await call.receive(), PromptsDone):
            if isinstance(event, CallerKey):
                await call.stop_prompts()
                return event.digit
    return None


def _greeting_key(call: Call, step: PlayGreeting, digit: str) -> str:
    if digit == step.agent_key:
        call.digits.append(digit)
        call.note(KeyPress("greeting", digit, "agent"))
        return "0 pressed during the greeting"
    if digit == step.status_key:
        call.digits.append(digit)
        call.note(KeyPress("greeting", digit, "status"))
        return f"status key {digit} pressed during the greeting"
    if digit in step.language_keys:
        call.language = step.language_keys[digit]
        call.note(KeyPress("greeting", digit, "language"))
        return f"language key {digit}: {call.language}"
    call.note(KeyPress("greeting", digit, "skip"))
    return f"greeting skipped with {digit}"


async def offer_menu(call: Call, step: OfferMenu, decision: Decision, why: str) -> str:
    """Play a menu and wait for a key, from the first prompt until ``timeout_s`` after the
    last; the key (or "" for no key) joins the call's digits for the next decision."""
    call.enter(
        CallState.MENU, f"{why}: menu {step.menu_id} attempt {step.attempt}", decision=decision
    )
    digit = await key_after_prompts(call, step.prompts, "menu", step.timeout_s)
    if digit is None:
        call.note(KeyPress("menu", "", "timeout"))
        call.digits.append("")
        return "menu timeout"
    options = {o.digit for o in step.options}
    meaning: Literal["choice", "agent", "invalid"] = (
        "choice" if digit in options else "agent" if digit == "0" else "invalid"
    )
    call.note(KeyPress("menu", digit, meaning))
    call.digits.append(digit)
    return f"menu answer {digit}"


async def key_after_prompts(
    call: Call, prompts: tuple[PromptRef, ...], timer: str, timeout_s: float
) -> str | None:
    """Play ``prompts`` and wait for one key (a key stops them), until ``timeout_s`` after
    them; None when no key came."""
    digit = await key_during(call, prompts)
    if digit is not None:
        return digit
    with call.timer(timer, timeout_s):
        while True:
            event = await call.receive()
            if isinstance(event, CallerKey):
                return event.digit
            if isinstance(event, Expired):
                return None


async def play_message(call: Call, step: PlayMessage, decision: Decision, why: str) -> None:
    """Play a message, then hang up or hand the caller back to the dialplan."""
    call.enter(CallState.MESSAGE, why, decision=decision)
    await call.play_through(call.call_id, step.prompts)
    if step.then_hangup:
        await call.finish(MESSAGE_PLAYED, hang_up_caller=True)
    else:
        await call.hand_over("message_then_dialplan")
