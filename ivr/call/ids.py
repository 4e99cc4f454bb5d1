"""The ids a call gives what it creates on the switch: destination legs, its bridge, playbacks.

They derive from the caller's channel id (the call id), so that a retried request is refused as
a duplicate instead of dialling or playing twice, and so that a controller that did not start
a call (after a restart) still recognises what the call left behind: the reconcile in
`ivr.controller` hangs up stray legs, leaves a known call's bridge alone and stops the prompts
a caller may still hear (a caller on hold is in no bridge: the music plays on their channel).
The call and the reconcile both name things through this module only.
"""

from __future__ import annotations

INBOUND_ARG = "inbound"
"""First appArgs entry of a carrier's call the dialplan sends to the application
(``inbound,DIALLED``)."""

TRANSFER_ARG = "transfer"
"""First appArgs entry of an originated destination leg (``transfer,CALLID``)."""

_LEG = "-leg"
_MIXING = "-bridge"

PROMPTS_BEFORE_TRANSFER = 16
"""How many playbacks (``seq`` 1..N) a call may have started to its caller before its transfer
leaves them on hold with no playback. A prompt set plays as one playback whatever languages it
mixes (`ivr.call.media`), so with the rule schema's limits the greeting takes 1, the menus at
most ``overlap_policy.max_attempts`` <= 5 and the transfer announcement 1: 7; the final message
after up to three whispered links (1 each, on the legs) is the 11th. The rest leaves room for
the status check's sets and for a set whose say media need two languages (two playbacks), and
for a call numbered by an earlier release, which played a set as one playback per run of one
language (up to 15). A caller past that is on hold (music on their channel, no playback) or
hears a final message after a longer chain, which a continue then waits for."""

AFRESH_NUMBERING_AFTER = PROMPTS_BEFORE_TRANSFER
"""A call started afresh by a restarted controller (a caller with no saved state) numbers its
playbacks after this, past any the earlier controller's call may have started (stopped first),
so that the end events of the stopped ones are not taken for its own. (A second restart in
that call's greeting finds its prompts numbered alike, and may cut the new greeting short.)"""

EARLY_PROMPTS = AFRESH_NUMBERING_AFTER + PROMPTS_BEFORE_TRANSFER
"""How many of a call's playbacks (``seq`` 1..N) a restarted controller stops on a caller it
does not know before handing it to the fallback context or starting it afresh: Asterisk queues
the continue behind the playback in progress and the ones queued, so without this the caller
would hear the rest of the prompt first; a new call would play over it. They cover a call
started by the earlier controller and one it had started afresh in turn (numbered after
`AFRESH_NUMBERING_AFTER`); 32 ``DELETE``s per unknown caller, once per reconnect, stay cheap
(404 for the ones long over)."""


def leg_id(call_id: str, link: int) -> str:
    """The channel id of the destination leg dialled for link ``link`` (1, 2, ...)."""
    return f"{call_id}{_LEG}{link}"


def is_leg(channel_id: str) -> bool:
    """Whether a channel is a destination leg some call dialled."""
    return _LEG in channel_id


def leg_owner(leg_channel_id: str) -> str:
    """The call id of the call that dialled a destination leg."""
    return leg_channel_id.rpartition(_LEG)[0]


def mixing_bridge_id(call_id: str) -> str:
    """The bridge of the caller's conversation with the destination that accepted."""
    return f"{call_id}{_MIXING}"


def bridge_owner(bridge_id: str) -> str | None:
    """The call id a call's mixing bridge belongs to; None for any other bridge."""
    return bridge_id.removesuffix(_MIXING) if bridge_id.endswith(_MIXING) else None


def playback_id(call_id: str, seq: int) -> str:
    """The id of a call's ``seq``-th playback (1, 2, ...), on any of its channels."""
    return f"{call_id}-p{seq}"


PLAYBACKS_PER_STATE = 4
"""How many playbacks a call starts at most between two transitions its saved state records
(`ivr.call.persistor`): a greeting or a menu (1, 2 if its say media need two languages) and the
transfer announcement (1); the whisper follows the ringing state. The rest covers a call
numbered by an earlier release, which played one playback per run of one language (a greeting or
a menu in two languages took 2). A call taken over stops these after the saved sequence number
and numbers its own playbacks after them."""


def playbacks_after(call_id: str, seq: int) -> list[str]:
    """The ids of the playbacks a call may have started after its ``seq``-th (see
    `PLAYBACKS_PER_STATE`)."""
    return [playback_id(call_id, n) for n in range(seq + 1, seq + PLAYBACKS_PER_STATE + 1)]


def early_playback_ids(call_id: str) -> list[str]:
    """The ids of the playbacks a call may be playing to its caller before its transfer
    (see `EARLY_PROMPTS`)."""
    return [playback_id(call_id, seq) for seq in range(1, EARLY_PROMPTS + 1)]
