"""What the fake switch lets a test or a simulation script and observe.

`Outcome` scripts how a dialled endpoint behaves; `ChannelRecord` is what happened to one
channel, kept after the channel is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OutcomeKind = Literal["answer", "busy", "no_answer", "rejected", "ring"]
HungUpBy = Literal["caller", "app", "callee", "dialplan", "restart"]

# Q.850 causes and the Dial status Asterisk reports for each failed outcome.
FAILURE_CAUSES: dict[str, tuple[int, str, str]] = {
    "busy": (17, "User busy", "BUSY"),
    "no_answer": (19, "No answer", "NOANSWER"),
    "rejected": (21, "Call Rejected", "CHANUNAVAIL"),
}
NORMAL_CLEARING = (16, "Normal Clearing")

# DELETE /channels/{id}?reason=... -> Q.850 cause, as in Asterisk's resource_channels.c.
HANGUP_REASONS: dict[str, tuple[int, str]] = {
    "normal": (16, "Normal Clearing"),
    "busy": (17, "User busy"),
    "congestion": (34, "Circuit/channel congestion"),
    "no_answer": (19, "No answer"),
    "timeout": (18, "No user responding"),
    "rejected": (21, "Call Rejected"),
    "unallocated": (1, "Unallocated (unassigned) number"),
    "normal_unspecified": (31, "Normal, unspecified"),
    "number_incomplete": (28, "Invalid number format (addr incomplete)"),
    "codec_mismatch": (58, "Bearer capability not available"),
    "interworking": (127, "Interworking, unspecified"),
    "failure": (38, "Network out of order"),
    "answered_elsewhere": (26, "Answered elsewhere"),
}


@dataclass(frozen=True)
class Outcome:
    """How a dialled endpoint answers an originate.

    ``answer``: answers after ``after_s`` and enters the application (StasisStart with the
    originate's appArgs); then, if ``press`` is set, presses those digits ``press_after_s`` after
    answering, or when the first playback to it finishes (the whisper) if ``press_after_s`` is
    None; and hangs up ``hangup_after_s`` after answering if set. ``busy`` (cause 17),
    ``no_answer`` (19) and ``rejected`` (21) end the leg after ``after_s`` with ChannelDestroyed
    and no StasisStart. ``ring`` rings until the originate's timeout (then cause 19).
    """

    kind: OutcomeKind = "answer"
    after_s: float = 0.0
    press: str = ""
    press_after_s: float | None = None
    hangup_after_s: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        """Build from the control API's JSON (``{"kind": "busy", "after_s": 2}``)."""
        kind = data.get("kind", "answer")
        if kind not in ("answer", "busy", "no_answer", "rejected", "ring"):
            raise ValueError(f"unknown outcome kind {kind!r}")
        return cls(
            kind=kind,
            after_s=float(data.get("after_s", 0.0)),
            press=str(data.get("press", "")),
            press_after_s=_optional_float(data.get("press_after_s")),
            hangup_after_s=_optional_float(data.get("hangup_after_s")),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class PlayRecord:
    """One play request: its media in order and how it ended."""

    playback_id: str
    media: tuple[str, ...]
    lang: str | None
    started: bool = False
    state: str = "queued"
    """queued, playing, done (played to the end), stopped, hangup (cut by a hang-up), failed,
    flushed (requested after a continue that went through before it played)."""


@dataclass
class ChannelRecord:
    """Everything that happened to one channel, in a form tests assert on."""

    channel_id: str
    direction: Literal["inbound", "outbound"]
    endpoint: str
    dialled: str = ""
    calling: str = ""
    app_args: tuple[str, ...] = ()
    entered_app: bool = False
    stasis_failed: bool = False
    """Inbound call arrived while the application was not connected: the dialplan fallback."""
    answered: bool = False
    rang: bool = False
    """A ringing indication was ever asked for."""
    ringing: bool = False
    """A ringing indication is on now (until stopped, answered before the answer, or the end)."""
    plays: list[PlayRecord] = field(default_factory=list)
    moh: bool = False
    bridges: list[str] = field(default_factory=list)
    bridged_with: list[str] = field(default_factory=list)
    """Other channels this one shared a mixing bridge with, in the order they met."""
    continued_to: tuple[str, str, int] | None = None
    dtmf: str = ""
    hung_up_by: HungUpBy | None = None
    cause: int | None = None
    destroyed: bool = False
    originator: str | None = None
    caller_id: str = ""
    history: list[str] = field(default_factory=list)
    """Readable log of what happened, in order (``answered``, ``play sound:...``...)."""

    @property
    def played_media(self) -> list[str]:
        """Media URIs of every playback that started, in order."""
        return [m for p in self.plays if p.started for m in p.media]

    def as_json(self) -> dict[str, Any]:
        """The record as JSON for the HTTP control API."""
        return {
            "channel_id": self.channel_id,
            "direction": self.direction,
            "endpoint": self.endpoint,
            "dialled": self.dialled,
            "calling": self.calling,
            "app_args": list(self.app_args),
            "entered_app": self.entered_app,
            "stasis_failed": self.stasis_failed,
            "answered": self.answered,
            "rang": self.rang,
            "ringing": self.ringing,
            "played": [
                {"id": p.playback_id, "media": list(p.media), "lang": p.lang, "state": p.state}
                for p in self.plays
            ],
            "moh": self.moh,
            "bridges": list(self.bridges),
            "bridged_with": list(self.bridged_with),
            "continued_to": list(self.continued_to) if self.continued_to else None,
            "dtmf": self.dtmf,
            "hung_up_by": self.hung_up_by,
            "cause": self.cause,
            "destroyed": self.destroyed,
            "history": list(self.history),
        }
