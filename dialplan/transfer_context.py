"""The dialplan that carries out a transfer the controller hands over (`dialplan.transfer_plan`):
the caller's context, which dials the plan's links in order, and the subroutine each answered
leg runs (``Dial(...,U(...))``) to whisper and wait for the accept key.

The text depends on no rule: the plan comes with each call, in the variable of its saved state
(`dialplan.names.STATE_VARIABLE` unless the options name another). Values read
from the plan may hold ``&`` (several sounds) or commas (a link's ``Dial()`` arguments), so they
are tested by length and never passed through ``ExecIf``. Every mark appended to
`OUTCOME_VARIABLE` is free of commas and spaces (``DIALSTATUS`` and ``HANGUPCAUSE`` hold
neither).

The leg tells the caller it accepted by setting ``IVR311_ACCEPTED`` (the link's index) on the
caller's channel, as it writes its marks there: through ``EXPORT``/``IMPORT`` on the caller's
unique id, which the caller hands down to its legs (``IVR311_CALLER``). ``MASTER_CHANNEL``
would find the channel of the leg's linked id, which is not the caller when the caller came
from another channel (a ``Local/`` channel, a call transferred in). ``GOSUB_RETVAL`` would not
do: ``Dial()`` copies it to the caller only when the subroutine also sets ``GOSUB_RESULT``, and a
leg that hangs up during the whisper is bridged all the same (and the bridge ends at once) with
``DIALSTATUS`` ``ANSWER``, so the caller could not tell it from a finished conversation.
"""

from __future__ import annotations

from collections.abc import Callable

from dialplan.names import STATE_VARIABLE
from dialplan.transfer_plan import OUTCOME_VARIABLE, PLAN_KEY, TRANSFER_CONTEXT, WHISPER_CONTEXT

NOW = "${STRFTIME(,,%s.%3q)}"
"""The time of a mark: Unix seconds with milliseconds."""
_DIAL_CAUSE = '${IF($["${DIALSTATUS}" = "NOANSWER"]?:${HANGUPCAUSE})}'
"""The cause Dial() left on the caller; none for ``NOANSWER``: a link that rang out leaves the
caller's ``HANGUPCAUSE`` as it was (0, or an earlier link's cause), and Asterisk cannot reset it
(a 480 answer, also ``NOANSWER``, would have left 19)."""
ACCEPTED_VARIABLE = "IVR311_ACCEPTED"
"""Set on the caller by the leg that accepted: the link's index."""
CALLER = "${IVR311_CALLER}"
"""On a leg: the unique id of the caller that dialled it."""


def _plan_reader(state_variable: str) -> Callable[..., str]:
    def plan(key: str, options: str = "") -> str:
        """The plan's member ``key`` (a JSON_DECODE path below `PLAN_KEY`)."""
        more = f",,{options}" if options else ""
        return f"${{JSON_DECODE({state_variable},{PLAN_KEY}.{key}{more})}}"

    return plan


def _appended(mark: str) -> str:
    """Append ``mark`` to the progress of the channel running the line (the caller)."""
    return f"Set({OUTCOME_VARIABLE}=${{{OUTCOME_VARIABLE}}} {mark})"


def _set_on_caller(variable: str, value: str) -> str:
    """Set ``variable`` on the caller, from the leg it dialled."""
    return f"Set(EXPORT({CALLER},{variable})={value})"


def _appended_to_caller(mark: str) -> str:
    """Append ``mark`` to the progress of the caller, from the leg it dialled."""
    return _set_on_caller(OUTCOME_VARIABLE, f"${{IMPORT({CALLER},{OUTCOME_VARIABLE})}} {mark}")


def transfer_contexts(state_variable: str = STATE_VARIABLE) -> list[list[str]]:
    """The lines of the two contexts, each a section of the dialplan; the plan is read from
    ``state_variable``."""
    return [transfer_lines(state_variable), whisper_lines()]


def transfer_lines(state_variable: str) -> list[str]:
    """The caller's context: announcement, each link in turn, the final message."""
    _plan = _plan_reader(state_variable)
    link = "${IVR311_LINK}"
    accepted = f'"${{DIALSTATUS}}" = "ANSWER" & "${{{ACCEPTED_VARIABLE}}}" = "{link}"'
    return [
        f"[{TRANSFER_CONTEXT}]",
        "; A transfer the controller hands over: it saved the plan in the caller's",
        f'; {state_variable} (member "{PLAN_KEY}") and continued the caller here. The',
        "; announcement, then each link in turn with music for the caller until a destination",
        f"; accepts (the {WHISPER_CONTEXT} subroutine), then the message when none did.",
        f"; Progress is appended to {OUTCOME_VARIABLE}, which the controller reads at the end.",
        f"exten => s,1,{_appended(f'h:{NOW}')}",
        " same => n,Set(__IVR311_CALLER=${UNIQUEID})",
        f" same => n,Set(IVR311_ANNOUNCE={_plan('a')})",
        " same => n,GotoIf($[${LEN(${IVR311_ANNOUNCE})} = 0]?links)",
        " same => n,Playback(${IVR311_ANNOUNCE})",
        f" same => n(links),Set(IVR311_LINKS={_plan('c', 'c')})",
        " same => n,ExecIf($[${LEN(${IVR311_LINKS})} = 0]?Set(IVR311_LINKS=0))",
        f" same => n,Set(__IVR311_ACCEPT_S={_plan('x')})",
        " same => n,Set(__IVR311_LINK=0)",
        " same => n(link),GotoIf($[${IVR311_LINK} >= ${IVR311_LINKS}]?failed)",
        f" same => n,Set(__IVR311_WHISPER={_plan(f'c.{link}.w')})",
        f" same => n,Set(__IVR311_ACCEPT={_plan(f'c.{link}.k')})",
        f" same => n,Set({ACCEPTED_VARIABLE}=)",
        f" same => n,{_appended(f'd:{link}:{NOW}')}",
        f" same => n,Dial({_plan(f'c.{link}.d')})",
        f" same => n,{_appended(f'e:{link}:${{DIALSTATUS}}:{_DIAL_CAUSE}:{NOW}')}",
        "; accepted and bridged: Dial() returned when the conversation ended",
        f" same => n,GotoIf($[{accepted}]?over)",
        " same => n,Set(__IVR311_LINK=$[${IVR311_LINK} + 1])",
        " same => n,Goto(link)",
        " same => n(over),Hangup()",
        f" same => n(failed),{_appended(f'm:{NOW}')}",
        f" same => n,Set(IVR311_FINAL={_plan('f')})",
        " same => n,GotoIf($[${LEN(${IVR311_FINAL})} = 0]?played)",
        " same => n,Playback(${IVR311_FINAL})",
        f" same => n(played),{_appended(f'z:{NOW}')}",
        " same => n,Hangup()",
    ]


def whisper_lines() -> list[str]:
    """The subroutine on an answered leg: whisper, then the accept key if the link has one."""
    link = "${IVR311_LINK}"
    return [
        f"[{WHISPER_CONTEXT}]",
        "; Run by an answered leg before it is bridged to the caller (Dial's U() option, from",
        f"; {TRANSFER_CONTEXT}): the whisper, then, when the link asks for a key, up to",
        "; IVR311_ACCEPT_S seconds for it once the whisper is over (any key cuts the whisper",
        "; short; another key is ignored). Accepted: Return() and Dial() bridges the leg.",
        "; Refused: GOSUB_RESULT=CONTINUE and Dial() hangs the leg up; the caller goes on.",
        f"exten => s,1,{_appended_to_caller(f'a:{link}:{NOW}')}",
        " same => n,GotoIf($[${LEN(${IVR311_ACCEPT})} > 0]?keyed)",
        " same => n,GotoIf($[${LEN(${IVR311_WHISPER})} = 0]?accepted)",
        " same => n,Playback(${IVR311_WHISPER})",
        " same => n,Goto(accepted)",
        " same => n(keyed),Read(IVR311_KEY,${IVR311_WHISPER},1,t,1,0.001)",
        ' same => n,GotoIf($["${IVR311_KEY}" = "${IVR311_ACCEPT}"]?accepted)',
        f" same => n,{_appended_to_caller(f'w:{link}:{NOW}')}",
        f" same => n,Set(IVR311_UNTIL=$[{NOW} + ${{IVR311_ACCEPT_S}}])",
        f" same => n(await),Set(IVR311_LEFT=$[${{IVR311_UNTIL}} - {NOW}])",
        " same => n,GotoIf($[${IVR311_LEFT} < 0.001]?refused)",
        " same => n,Read(IVR311_KEY,,1,t,1,${IVR311_LEFT})",
        ' same => n,GotoIf($["${IVR311_KEY}" = "${IVR311_ACCEPT}"]?accepted)',
        ' same => n,GotoIf($["${READSTATUS}" = "OK"]?await)',
        " same => n(refused),Set(GOSUB_RESULT=CONTINUE)",
        " same => n,Return(refused)",
        f" same => n(accepted),{_appended_to_caller(f'k:{link}:{NOW}')}",
        f" same => n,{_set_on_caller(ACCEPTED_VARIABLE, link)}",
        " same => n,Return(accepted)",
    ]
