"""The reconcile after every (re)connect: the controller squares what it holds with what
Asterisk still holds for the application.

Calls it knows are resumed; a caller it does not know (a controller restart) whose saved state
(`ivr.call.persistor`, a channel variable) is resumable is taken over where it stood: in a
menu, a status check, or on hold while the transfer goes on, its ringing or answered leg
adopted; an inbound caller with no saved state at all (in the greeting, which saves nothing, or
a caller nobody answered yet, its StasisStart lost with a socket) is started afresh as a new
call under the active rules, the greeting from its start, an earlier controller's prompts
stopped first (`Reconciler._start_afresh`); a StasisStart for a channel that has its call
already is ignored, so nobody is answered twice; conversations it does not know (a restart
during a bridged call) are watched until one side hangs up (and ended when a side went while
the socket was down); and any other channel, or a caller whose state is unreadable or not
resumable, on hold with none, or any caller found while draining or without rules, is handed
to the dialplan fallback context, so nobody waits in silence (its prompts stopped first:
Asterisk would play them out before continuing it). Bridges of the application no call owns any
longer are destroyed, and legs no call owns are hung up. A caller handed back while Asterisk
did not answer goes there too, counted once, with the reason it was first handed back for
(`ivr.controller.hand_backs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from ivr.ari import AriError
from ivr.ari.events import Channel, StasisStart, stasis_args
from ivr.call import Call, CallEnvironment, ids
from ivr.call.ids import INBOUND_ARG
from ivr.controller.drain import Drain
from ivr.controller.registry import ChannelRegistry
from ivr.controller.rules_source import RulesSource
from ivr.controller.takeover import Unsaved, callers_to_pick_up
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)


class Reconciler:
    """The reconcile of one controller, over what it shares with it: the calls' environment
    (its ARI client, which names the application, its metrics and leg registration), the
    channels it handles and its idle event (`ChannelRegistry`), its rules and drain.
    ``state_variable`` is the channel variable calls save their state in (`ivr.call.persistor`);
    ``inbound`` starts the call of a caller as its StasisStart would (`Controller._inbound`);
    ``spawn`` runs a task the controller cancels when it closes."""

    def __init__(
        self,
        env: CallEnvironment,
        registry: ChannelRegistry,
        *,
        rules: RulesSource,
        drain: Drain,
        state_variable: str,
        inbound: Callable[[StasisStart], Call | None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._env = env
        self._ari = env.ari
        self._registry = registry
        self._rules = rules
        self._drain = drain
        self._state_variable = state_variable
        self._inbound = inbound
        self._spawn = spawn

    async def run(self) -> None:
        """Reconcile with what Asterisk holds for the application now."""
        state = await self._ari.application_state()
        present = frozenset(state.channel_ids)
        for call in list(self._registry.calls.values()):
            if call.call_id not in present:
                self._spawn(call.lost())
            else:
                self._spawn(call.resume(present))
        self._registry.hand_backs.forget_absent(present)
        ended = await self._registry.conversations.end_broken(present)
        known = self._registry.channels() | ended
        known |= await self._pick_up_callers(present - known, present, set(state.bridge_ids))
        adopted: set[str] = set()
        for bridge_id in state.bridge_ids:
            if ids.bridge_owner(bridge_id) in self._registry.calls:
                continue
            adopted |= await self._registry.conversations.adopt(bridge_id, present)
        for channel_id in present - known - adopted:
            if ids.is_leg(channel_id):
                with contextlib.suppress(AriError):
                    await self._ari.hangup(channel_id)
                continue
            try:
                channel = await self._ari.get_channel(channel_id)
            except AriError:
                continue
            if channel.dialplan.app_name not in ("", "Stasis"):
                continue  # in the dialplan (a transfer handed over): not the controller's
            if channel.state != "Up" and stasis_args(channel)[:1] == (INBOUND_ARG,):
                # A caller nobody answered, not picked up above (draining, no rules, its
                # variable unreadable): as for its StasisStart, started or, draining or
                # without rules, handed to the fallback context (nothing played to it).
                self._inbound(self._stasis_start_of(channel))
                continue
            self._spawn(
                self._registry.hand_backs.continue_unknown(
                    channel_id, channel.dialplan.exten or "s", "reconcile", stop_prompts=True
                )
            )
        for channel_id, extension, reason in self._registry.hand_backs.to_confirm():
            self._spawn(self._registry.hand_backs.confirm(channel_id, extension, reason))
        log.info("controller.reconciled", channels=len(present), calls=len(self._registry.calls))

    async def _pick_up_callers(
        self, unknown: frozenset[str], present: frozenset[str], bridges: set[str]
    ) -> set[str]:
        """Take over the callers among ``unknown`` whose saved state is resumable, and start
        afresh the inbound callers with none (`_start_afresh`); returns their channels and the
        legs adopted with them. The calls and legs are registered before this returns, so no
        event of theirs after the reconnect is missed. Draining or without rules, none: the
        rest of the reconcile hands them to the fallback context."""
        taken: set[str] = set()
        current = self._rules.current
        if self._drain.started or current is None:
            return taken
        callers = callers_to_pick_up(self._ari, self._state_variable, unknown, present, bridges)
        async for found in callers:
            if isinstance(found, Unsaved):
                if stasis_args(found.channel)[:1] == (INBOUND_ARG,):
                    self._start_afresh(found.channel)
                    taken.add(found.channel.id)
                continue
            channel_id, saved = found.channel.id, found.saved
            if found.leg_id is not None:
                self._env.register_leg(found.leg_id, channel_id)
                taken.add(found.leg_id)
            call = Call(
                call_id=channel_id,
                dialled=saved.dialled,
                calling=found.channel.caller.number or None,
                snapshot=self._snapshot_of(saved.rules_version, current),
                env=self._env,
            )
            self._registry.add_call(call)
            taken.add(channel_id)
            self._spawn(call.take_over(saved, found.resume, in_stasis=found.in_stasis))
        return taken

    def _start_afresh(self, channel: Channel) -> None:
        """Start the call of an inbound caller in the application with no saved state, as a
        new call under the active rules: the greeting from its start. An earlier controller
        may have been playing the greeting (nothing is saved before the first menu, status
        check or transfer) or more (a later state write failed: the caller hears the greeting
        again rather than going to the fallback context, and still reaches a person); its
        prompts are stopped as the new call's first step, before its greeting (here they would
        hold up the reconcile, and every call with it), and the new call numbers its own after
        theirs (`ids.AFRESH_NUMBERING_AFTER`), so that their end events are not taken for its
        own. A caller nobody answered yet (its StasisStart lost with a socket) is answered now,
        once: should its StasisStart still come, it is ignored (`Controller._inbound`)."""
        call = self._inbound(self._stasis_start_of(channel))
        if call is not None and channel.state == "Up":
            call.start_afresh()

    def _stasis_start_of(self, channel: Channel) -> StasisStart:
        """The StasisStart a channel found in the application had (or will have)."""
        return StasisStart(
            type="StasisStart",
            application=self._ari.app,
            args=stasis_args(channel),
            channel=channel,
        )

    def _snapshot_of(self, version: int | None, current: RuleSnapshot) -> RuleSnapshot:
        """The rule version a call was decided with, if this controller still has it (the
        active one, or one a call in progress keeps), else the active one."""
        kept = {call.snapshot.version: call.snapshot for call in self._registry.calls.values()}
        return current if current.version == version else kept.get(version, current)
