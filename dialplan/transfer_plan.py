"""A transfer the controller hands to the dialplan: the plan the generated transfer context
carries out, and the progress it leaves on the caller's channel.

The controller saves each call's state on the caller's channel as compact JSON
(`ivr.call.persistor`, ``IVR311_STATE``). A call whose transfer the dialplan carries out saves
the plan in that state under `PLAN_KEY`, then continues the caller at `TRANSFER_CONTEXT`
``s,1``, which reads the plan with ``JSON_DECODE``:

- ``a``: the announcement (a ``Playback()`` argument, ``""`` for none);
- ``c``: the links in order, each ``d`` (the ``Dial()`` arguments: music while it rings, the
  whisper subroutine on the answered leg, the caller id shown; `dial_arguments` writes them,
  `read_dial_arguments` reads them back), ``w`` (the whisper), ``k``
  (the accept key, ``""`` when the rules ask for none) and ``i`` (the destination's id, for
  the call's record);
- ``x``: how long the destination has to press the accept key, in seconds;
- ``f``: the message when no link connected;
- ``n``: the kind of transfer (``municipality``, ``agent``, ``after_hours``), for the record.

Sounds are named with their language (``fr_CA/ivr311/<id>``), so they play in it whatever the
channel's language. The context appends its progress to `OUTCOME_VARIABLE` on the caller's
channel, which Asterisk sends with every channel in ARI events (``channelvars`` in
``ari.conf``): the controller reads it off the caller's ``ChannelDestroyed`` and tells the
call's course from it (`parse_outcome`). Marks, space-separated, times in Unix seconds with
milliseconds:

- ``h:T`` the caller entered the context (the announcement starts);
- ``d:I:T`` link ``I`` (0 first) is dialled, the caller hears music;
- ``a:I:T`` it answered: the whisper starts (written by the whisper subroutine on the leg);
- ``w:I:T`` the whisper is over and the accept key is awaited;
- ``k:I:T`` it accepted (or no key was asked): the caller and the leg are bridged;
- ``e:I:STATUS:CAUSE:T`` its ``Dial()`` returned with the caller still there (``DIALSTATUS``,
  ``HANGUPCAUSE``): after ``k`` the conversation is over, otherwise the link failed;
- ``m:T`` no link connected: the message starts; ``z:T`` it played to its end.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from recordings.manifest import sound_name
from routing_rules.decision import Prompts, TransferKind

TRANSFER_CONTEXT = "ivr311-transfer"
"""Where the controller continues a caller whose transfer the dialplan carries out."""
WHISPER_CONTEXT = "ivr311-whisper"
"""The subroutine an answered leg runs (``Dial(...,U(...))``): whisper, accept key."""
OUTCOME_VARIABLE = "IVR311_OUTCOME"
"""The caller's channel variable the transfer context writes its progress to."""
PLAN_KEY = "t"
"""The member of the saved call state that holds the plan."""

_UNSAFE_IN_ARGUMENT = frozenset(",()|\"'`${}[]\\\n\r")
"""Characters that would change what a dialplan application argument means."""
_UNSAFE_IN_DIAL = _UNSAFE_IN_ARGUMENT | {"&"}
"""Also ``&``: ``Dial()`` would ring a second destination."""


def _safe(text: str, unsafe: frozenset[str] = _UNSAFE_IN_ARGUMENT) -> bool:
    return unsafe.isdisjoint(text)


def sounds(prompts: Prompts) -> str | None:
    """``prompts`` as one ``Playback()`` argument, each named with its language; ``None`` when
    one of them is Asterisk's own say media (``digits:...``), which only ARI plays."""
    if any(":" in p.id for p in prompts):
        return None
    names = [sound_name(p.id, p.language) for p in prompts]
    return "&".join(names) if all(_safe(n) for n in names) else None


def dial_arguments(
    dial_string: str, ring_timeout_s: float, moh_class: str | None, caller_id: str
) -> str | None:
    """The ``Dial()`` arguments of one link: ring for the link's timeout with music on hold
    for the caller (``m``), run the whisper subroutine on the answered leg (``U``), go on in
    the dialplan whatever the leg does (``g``), show ``caller_id`` (``f``) when set. ``None``
    when a value would not survive as a dialplan argument."""
    values = (dial_string, moh_class or "", caller_id)
    if not all(_safe(v, _UNSAFE_IN_DIAL) for v in values) or not dial_string:
        return None
    timeout = max(1, math.ceil(ring_timeout_s))
    music = f"m({moh_class})" if moh_class else "m"
    shown = f"f({caller_id})" if caller_id else ""
    return f"{dial_string},{timeout},g{music}{shown}U({WHISPER_CONTEXT})"


@dataclass(frozen=True, slots=True)
class DialArguments:
    """One link's ``Dial()`` arguments, as `dial_arguments` wrote them."""

    dial_string: str
    ring_timeout_s: int
    """Whole seconds, at least 1."""
    moh_class: str | None
    """The class of the caller's music while it rings; None for the channel's own."""
    caller_id: str
    """The caller id the leg is shown; ``""`` for the caller's own."""


_DIAL_OPTIONS = re.compile(
    rf"gm(?:\((?P<moh>[^()]+)\))?(?:f\((?P<caller_id>[^()]+)\))?U\({re.escape(WHISPER_CONTEXT)}\)"
)
"""The options `dial_arguments` writes, in its order."""
_RING_TIMEOUT = re.compile("[1-9][0-9]*")


def read_dial_arguments(text: str) -> DialArguments:
    """The values `dial_arguments` wrote ``text`` from; `ValueError` naming the part of
    ``text`` it could not have written."""
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"Dial() arguments {text!r}: not dial string, timeout and options")
    dial, timeout, options = parts
    if not dial or not _safe(dial, _UNSAFE_IN_DIAL):
        raise ValueError(f"Dial() arguments {text!r}: dial string {dial!r}")
    if _RING_TIMEOUT.fullmatch(timeout) is None:
        raise ValueError(f"Dial() arguments {text!r}: ring timeout {timeout!r}")
    matched = _DIAL_OPTIONS.fullmatch(options)
    if matched is None or not _safe(options, _UNSAFE_IN_DIAL - set("()")):
        raise ValueError(f"Dial() arguments {text!r}: options {options!r}")
    return DialArguments(dial, int(timeout), matched["moh"], matched["caller_id"] or "")


@dataclass(frozen=True, slots=True)
class PlanLink:
    dial: str
    """The ``Dial()`` arguments (`dial_arguments`)."""
    whisper: str
    accept_key: str
    """``""`` when the destination need not press a key."""
    destination: str = ""
    """The destination's id."""


@dataclass(frozen=True, slots=True)
class TransferPlan:
    announce: str
    links: tuple[PlanLink, ...]
    final_message: str
    accept_timeout_s: float
    kind: TransferKind = "agent"

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.kind,
            "a": self.announce,
            "c": [
                {"d": li.dial, "w": li.whisper, "k": li.accept_key, "i": li.destination}
                for li in self.links
            ],
            "x": self.accept_timeout_s,
            "f": self.final_message,
        }

    @classmethod
    def from_json(cls, data: object) -> TransferPlan | None:
        """The plan `as_json` wrote, or ``None`` for anything else."""
        if not isinstance(data, Mapping):
            return None
        try:
            links = tuple(
                PlanLink(str(li["d"]), str(li["w"]), str(li["k"]), str(li.get("i", "")))
                for li in data["c"]
            )
            kind = data.get("n", "agent")
            if kind not in get_args(TransferKind):
                return None
            return cls(str(data["a"]), links, str(data["f"]), float(data["x"]), kind)
        except (KeyError, TypeError, ValueError):
            return None


MarkKind = Literal["h", "d", "a", "w", "k", "e", "m", "z"]
_LINKED = frozenset("dawke")


@dataclass(frozen=True, slots=True)
class Mark:
    """One step of a handed-over transfer, as the transfer context wrote it."""

    kind: MarkKind
    at: float
    """Unix time, seconds."""
    link: int | None = None
    status: str = ""
    """``e``: Dial()'s ``DIALSTATUS``."""
    cause: int | None = None
    """``e``: the ``HANGUPCAUSE`` Dial() left (a Q.850 cause), when it left one."""


def parse_outcome(raw: str | None) -> list[Mark]:
    """The marks of `OUTCOME_VARIABLE`, in order; a token that is not a mark is skipped (the
    variable is the dialplan's, and a caller's channel may carry anything)."""
    marks: list[Mark] = []
    for token in (raw or "").split():
        mark = _mark(token.split(":"))
        if mark is not None:
            marks.append(mark)
    return marks


def _mark(fields: list[str]) -> Mark | None:
    kind = fields[0]
    try:
        if kind in ("h", "m", "z") and len(fields) == 2:
            return Mark(kind, _time(fields[1]))  # type: ignore[arg-type]
        if kind in _LINKED and kind != "e" and len(fields) == 3:
            return Mark(kind, _time(fields[2]), link=_index(fields[1]))  # type: ignore[arg-type]
        if kind == "e" and len(fields) == 5:
            cause = int(fields[3]) if fields[3] else None
            return Mark("e", _time(fields[4]), _index(fields[1]), fields[2], cause)
    except ValueError:
        return None
    return None


def _time(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value
