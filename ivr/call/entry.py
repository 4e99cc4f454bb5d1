"""How a call's flow begins: a caller who just entered the application, answered unless the
dialplan did, or a call an earlier controller had, taken over where its saved state says it
stood. Each gives the flow the call then runs (`ivr.call.course`); both run with the call's
lock held.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from ivr.ari.errors import AriError
from ivr.call import ids
from ivr.call.course import follow_handed_over, run, run_transfer_on
from ivr.call.persistor import SavedCall
from ivr.call.phases import read_location
from ivr.call.states import CALLER_HANGUP
from ivr.call.transfer import TransferResume

if TYPE_CHECKING:
    from ivr.call.machine import Call

log = structlog.get_logger(__name__)


async def request_answer(call: Call) -> AriError | None:
    """Ask Asterisk to answer the caller; how the request failed, if it did."""
    try:
        await call.ari.answer(call.call_id)
    except AriError as exc:
        return exc
    return None


async def answered_flow(call: Call, failure: AriError | None) -> Coroutine[Any, Any, None] | None:
    """The flow of a call just answered, from its first decision; None when the answer
    failed (``failure``), which ended the call: the caller gone, or handed back."""
    if failure is not None:
        log.warning("call.answer_failed", error=str(failure))
        if failure.is_gone or failure.is_conflict:
            call.caller_gone = True
            await call.finish(CALLER_HANGUP)
        else:
            await call.hand_over("answer_failed")
        return None
    call.answered_at = time.monotonic()
    await read_location(call)
    return run(call, "answered")


async def taken_over_flow(
    call: Call, saved: SavedCall, resume: TransferResume | None, *, in_stasis: bool
) -> Coroutine[Any, Any, None]:
    """The flow of a call taken over (`Call.take_over`), its state restored from ``saved``
    and its prompts numbered after those the earlier controller may have started."""
    call.language = saved.language
    call.greeting_done = saved.greeting_done
    call.digits = list(saved.digits)
    call.record.language = saved.language
    call.resources.prompts.number_after(saved.playbacks + ids.PLAYBACKS_PER_STATE)
    call.answered_at = time.monotonic()
    log.info("call.taken_over", state=str(saved.state), link=saved.link)
    await read_location(call)
    why = f"resumed in {saved.state}"
    if saved.plan is not None:
        return follow_handed_over(call, saved.plan, why, in_stasis)
    if resume is not None:
        return run_transfer_on(call, resume, why)
    return run(call, why)
