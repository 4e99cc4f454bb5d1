"""Where each call stands, kept on the caller's channel so that a restarted controller resumes it.

The `StatePersistor` observes transitions, as wazo-calld's state persistor does: at each one a
restarted controller could resume from (a menu, a status check, hold, dialling a link) and at
the final message, which rules a resume out, it writes a `SavedCall` (state, rule version,
dialled number, language, digits so far, chain position) as compact JSON to one channel
variable (`STATE_VARIABLE` unless set otherwise) on the caller's channel. The greeting writes
nothing: it is where every call starts, so a caller found with no saved state is started
afresh there (its greeting from the start, under the active rules) and nothing delays it. A
bridged call writes nothing either: its conversation bridge already tells a restarted
controller to leave it be, so the request is saved on every connected call. Nor does the
ringing of a transfer's first link, as long as the plan saved (`SavedCall.plan`, below) is
still the call's: a call saved on hold resumes exactly as one saved ringing link 0 would (at
link 0, whose leg is looked up by its id), so the hold write covers it.
Writes run beside the call, one at a time per channel, the latest state only; the call waits
for its write only before it plays to its caller (`written`: Asterisk runs a variable write
queued behind a prompt only once the prompt has played, holding the request that long). A
failed write is logged and the call goes on: a restart then finds the state written before it,
and resumes the caller there, or none, and starts the caller afresh at the greeting (where it
used to hand them to the fallback context: they hear the greeting again, and still reach a
person). A variable that is unreadable or holds a state that does not resume sends the caller
to the fallback context.

A call whose transfer the dialplan carries out (`ivr.call.handover`) saves the transfer's plan
with its hold state (`SavedCall.plan`): the generated transfer context reads it there, and a
restarted controller finding it follows the caller to its end instead of taking the transfer
over; nothing is written once the caller is in the dialplan. The first link's ringing is
written after all when the plan saved is no longer the call's: should the hand-over fail and
the transfer go on over ARI (the call then has no plan), its ringing replaces the saved plan,
so a restarted controller takes the transfer over instead of handing the caller to the
dialplan.

`ivr.controller.reconcile` reads the variable at reconcile for each caller it does not know and,
when `SavedCall.resumable`, lets a new `Call` pick the call up (`Call.take_over`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import structlog

from dialplan.names import STATE_VARIABLE
from dialplan.transfer_plan import PLAN_KEY, TransferPlan
from ivr.ari.client import AriClient
from ivr.ari.errors import AriError
from ivr.call.states import TRANSFERRING, CallState, Transition

log = structlog.get_logger(__name__)


_WRITTEN_AT = frozenset(
    {
        CallState.MENU,
        CallState.STATUS,
        CallState.TRANSFER_HOLD,
        CallState.TRANSFER_RINGING,
        CallState.MESSAGE,
    }
)
"""The states whose entry is written: the greeting is where a caller without saved state
starts again; whisper and awaiting_accept resume as ringing (the leg, answered, is adopted); a
bridged caller is recognised by its conversation bridge (`ivr.controller.takeover`), and the
end needs no record."""

RESUMABLE = frozenset({CallState.GREETING, CallState.MENU, CallState.STATUS}) | TRANSFERRING
"""The saved states a restarted controller takes a caller over in (the greeting as an earlier
release saved it)."""


@dataclass(frozen=True)
class SavedCall:
    """What a call has decided and where it stands, as a restarted controller needs it.

    ``link`` is the index in the transfer's chain of the link dialled (ringing) or None
    before the first. A resume asks the engine again with the saved context (dialled number,
    language, greeting heard, digits): the greeting or the menu replays from its start, a status
    check asks for the request number again; a transfer goes on at ``link``.
    """

    state: CallState
    rules_version: int | None
    dialled: str
    language: str
    greeting_done: bool
    digits: tuple[str, ...]
    playbacks: int
    """How many playbacks the call had started (`ids.playbacks_after` may still play)."""
    link: int | None = None
    plan: TransferPlan | None = None
    """The transfer the dialplan carries out, once the call hands it over: the generated
    dialplan reads it here (`dialplan.transfer_plan`)."""

    @classmethod
    def of(cls, t: Transition) -> SavedCall:
        call = t.call
        on_hold = t.target is CallState.TRANSFER_HOLD
        return cls(
            state=t.target,
            rules_version=call.snapshot.version,
            dialled=call.dialled,
            language=call.language,
            greeting_done=call.greeting_done,
            digits=tuple(call.digits),
            playbacks=call.resources.prompts.started,
            link=t.link.index if t.link is not None else None,
            plan=call.dialplan_plan if on_hold else None,
        )

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE

    def encode(self) -> str:
        """Compact JSON (a few dozen bytes)."""
        data: dict[str, object] = {
            "s": str(self.state),
            "v": self.rules_version,
            "d": self.dialled,
            "l": self.language,
            "g": int(self.greeting_done),
            "k": list(self.digits),
            "p": self.playbacks,
        }
        if self.link is not None:
            data["i"] = self.link
        if self.plan is not None:
            data[PLAN_KEY] = self.plan.as_json()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None) -> SavedCall | None:
        """The saved call, or None when ``raw`` is missing or not one `encode` wrote."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
            link = data.get("i")
            digits = data["k"]
            saved = cls(
                state=CallState(data["s"]),
                rules_version=None if data["v"] is None else int(data["v"]),
                dialled=str(data["d"]),
                language=str(data["l"]),
                greeting_done=bool(data["g"]),
                digits=tuple(str(d) for d in digits),
                playbacks=int(data["p"]),
                link=None if link is None else int(link),
                plan=TransferPlan.from_json(data[PLAN_KEY]) if PLAN_KEY in data else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        negative = saved.playbacks < 0 or (saved.link is not None and saved.link < 0)
        unreadable_plan = PLAN_KEY in data and saved.plan is None
        return None if negative or unreadable_plan or not isinstance(digits, list) else saved


def _first_link_ringing(t: Transition) -> bool:
    """Dialling the chain's first link: its saved hold already resumes there."""
    return t.target is CallState.TRANSFER_RINGING and t.link is not None and t.link.index == 0


class StatePersistor:
    """The observer writing each call's `SavedCall` to its caller's channel."""

    def __init__(self, ari: AriClient, variable: str = STATE_VARIABLE) -> None:
        self._ari = ari
        self.variable = variable
        self._latest: dict[str, str] = {}
        """Caller channel -> the value still to write."""
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._failed: set[str] = set()
        """Callers whose latest write failed."""
        self._plans: dict[str, TransferPlan] = {}
        """Caller channel -> the plan its latest state holds (`SavedCall.plan`), for the
        callers whose latest state holds one."""

    def __call__(self, t: Transition) -> None:
        call_id = t.call.call_id
        if t.target is CallState.ENDED:
            self._latest.pop(call_id, None)
            self._failed.discard(call_id)
            self._plans.pop(call_id, None)
            return
        if t.target not in _WRITTEN_AT or t.call.in_dialplan:
            return
        saved = SavedCall.of(t)
        if _first_link_ringing(t) and saved.plan == self._plans.get(call_id):
            return  # the hold written covers it, unless it holds a plan the call gave up
        if saved.plan is None:
            self._plans.pop(call_id, None)
        else:
            self._plans[call_id] = saved.plan
        self._latest[call_id] = saved.encode()
        if call_id not in self._writers:
            task = asyncio.get_running_loop().create_task(self._write(call_id))
            self._writers[call_id] = task

    async def _write(self, call_id: str) -> None:
        try:
            while (value := self._latest.pop(call_id, None)) is not None:
                try:
                    # a call waits for its write before it plays (`written`)
                    await self._ari.set_variable(
                        call_id, self.variable, value, nothing_playing=True
                    )
                    self._failed.discard(call_id)
                except AriError as exc:
                    self._failed.add(call_id)
                    # Gone: the caller hung up (its end event follows), nothing to resume.
                    level = log.debug if exc.is_gone else log.warning
                    level("call.state_not_saved", call_id=call_id, error=str(exc))
        finally:
            self._writers.pop(call_id, None)

    async def written(self, call_id: str) -> bool:
        """Wait until the call's latest state is written (True) or failed to be (False)."""
        writer = self._writers.get(call_id)
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)
        return call_id not in self._failed

    async def settled(self) -> None:
        """Wait until every write started has been made (or failed)."""
        while self._writers:
            await asyncio.gather(*self._writers.values(), return_exceptions=True)

    async def close(self) -> None:
        """Abandon the writes in progress (the controller stops)."""
        for task in list(self._writers.values()):
            task.cancel()
        await asyncio.gather(*self._writers.values(), return_exceptions=True)
        self._latest.clear()
