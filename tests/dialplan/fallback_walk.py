"""A call followed through a rendered dialplan, as Asterisk would run it, with no Asterisk.

It reads the generated contexts back (the NPA-NXX, exchange, municipality and chain tables, the
schedule subroutines and the closed-day lists) and executes the few applications, functions and
expressions the renderer writes. Anything else raises, so a renderer that starts writing
something new fails here instead of being skipped. No destination answers: the walk goes down
the whole chain and ends with the final message, which shows every link the fallback would try.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

Priority = tuple[str | None, str]
"""A priority's label (``n(failed)``) and its application line."""

_COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_COMPARISON = re.compile(r"^(.*?)\s*(>=|<=|!=|>|<|=)\s*(.*)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_STEPS = 500


def read_dialplan(text: str) -> dict[str, dict[str, list[Priority]]]:
    """Context → extension → its priorities in order, labels kept, comments dropped."""
    contexts: dict[str, dict[str, list[Priority]]] = {}
    context: dict[str, list[Priority]] = {}
    current: list[Priority] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            context = contexts.setdefault(line[1:-1], {})
        elif line.startswith("exten =>"):
            exten, priority, app = line.removeprefix("exten =>").strip().split(",", 2)
            assert priority == "1", line
            current = context.setdefault(exten, [])
            current.append((None, app))
        elif line.startswith("same =>"):
            priority, app = line.removeprefix("same =>").strip().split(",", 1)
            label = re.fullmatch(r"n(?:\((\w+)\))?", priority)
            assert label is not None, line
            current.append((label[1], app))
        else:
            raise AssertionError(f"unexpected dialplan line: {line}")
    return contexts


@dataclass
class Dialled:
    destination: str
    """``IVR311_DEST`` when the link was dialled."""
    dial: str
    """The ``Dial()`` argument: dial string and ring timeout."""
    caller_id: str
    """``CALLERID(num)`` presented."""


@dataclass
class FallbackCall:
    """What one call did in the dialplan."""

    dialled: list[Dialled] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    """Prompt ids, in order (``ivr311/`` removed)."""
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False


class _Walk:
    def __init__(
        self,
        plan: dict[str, dict[str, list[Priority]]],
        caller_id: str,
        at: datetime,
    ) -> None:
        self.plan = plan
        self.at = at
        self.call = FallbackCall(variables={"CALLERID(num)": caller_id})
        self.stack: list[tuple[str, str, int]] = []

    # -- expressions ----------------------------------------------------------------------

    def substitute(self, text: str) -> str:
        """Expand ``${...}`` and ``$[...]``, innermost first, as Asterisk does."""
        while True:
            start = max(text.rfind("${"), text.rfind("$["))
            if start < 0:
                return text
            closer = "}" if text[start + 1] == "{" else "]"
            end = text.index(closer, start)
            inner = text[start + 2 : end]
            value = self.function(inner) if closer == "}" else self.expression(inner)
            text = text[:start] + value + text[end + 1 :]

    def function(self, inner: str) -> str:
        call = re.fullmatch(r"([A-Z_]+)\((.*)\)", inner)
        if call is None:
            substring = re.fullmatch(r"(\w+):(\d+)(?::(\d+))?", inner)
            if substring is not None:
                value = self.call.variables.get(substring[1], "")
                begin = int(substring[2])
                length = int(substring[3]) if substring[3] else len(value)
                return value[begin : begin + length]
            if inner == "EPOCH":
                return str(int(self.at.timestamp()))
            return self.call.variables.get(inner, "")
        name, args = call[1], call[2]
        if name in ("CALLERID", "LOCAL", "CHANNEL"):
            return self.call.variables.get(inner, "")
        if name == "FILTER":
            allowed, value = args.split(",", 1)
            return "".join(c for c in value if c in allowed)
        if name == "LEN":
            return str(len(args))
        if name == "IF":
            condition, choices = args.split("?", 1)
            yes, _, no = choices.partition(":")
            return yes if _true(condition) else no
        if name == "STRFTIME":
            epoch, zone, pattern = args.split(",", 2)
            moment = datetime.fromtimestamp(int(epoch), ZoneInfo(zone))
            return moment.strftime(pattern)
        if name == "DIALPLAN_EXISTS":
            context, exten, priority = args.split(",")
            assert priority == "1"
            return "1" if exten in self.plan.get(context, {}) else "0"
        raise AssertionError(f"unsupported function {inner}")

    @staticmethod
    def expression(inner: str) -> str:
        """``$[a OP b & c OP d]`` with plain or quoted operands."""
        verdicts = []
        for term in inner.split("&"):
            match = _COMPARISON.match(term.strip())
            assert match is not None, inner
            left, op, right = (match[1].strip().strip('"'), match[2], match[3].strip().strip('"'))
            both_numbers = left.lstrip("-").isdigit() and right.lstrip("-").isdigit()
            a, b = (int(left), int(right)) if both_numbers else (left, right)
            verdicts.append(_COMPARISONS[op](a, b))
        return "1" if all(verdicts) else "0"

    # -- applications ---------------------------------------------------------------------

    def run(self, context: str, exten: str) -> FallbackCall:
        position: tuple[str, str, int] | None = (context, exten, 0)
        steps = 0
        while position is not None and not self.call.hung_up:
            steps += 1
            assert steps < _MAX_STEPS, "the dialplan loops"
            context, exten, index = position
            priorities = self.plan[context][exten]
            if index >= len(priorities):
                break
            position = self.execute(context, exten, index, priorities[index][1])
        return self.call

    def execute(
        self, context: str, exten: str, index: int, line: str
    ) -> tuple[str, str, int] | None:
        app, args = _application(line)
        following = (context, exten, index + 1)
        if app == "ExecIf":
            condition, conditional = self.substitute(args).split("?", 1)
            if _true(condition):
                return self.execute(context, exten, index, conditional)
            return following
        if app not in ("GotoIf",):
            args = self.substitute(args)
        if app in ("NoOp", "Answer"):
            return following
        if app == "Set":
            name, value = args.split("=", 1)
            self.call.variables[name] = value
            return following
        if app == "Playback":
            self.call.played += [p.removeprefix("ivr311/") for p in args.split("&")]
            return following
        if app == "Dial":
            self.call.dialled.append(
                Dialled(
                    self.call.variables.get("IVR311_DEST", ""),
                    args,
                    self.call.variables["CALLERID(num)"],
                )
            )
            return following  # no answer: DIALSTATUS stays unset
        if app == "Hangup":
            self.call.hung_up = True
            return None
        if app == "Goto":
            return self.target(context, exten, args)
        if app == "GotoIf":
            condition, destination = args.split("?", 1)
            if _true(self.substitute(condition)):
                return self.target(context, exten, self.substitute(destination))
            return following
        if app == "GotoIfTime":
            spec, destination = args.split("?", 1)
            if self.in_time(spec):
                return self.target(context, exten, destination)
            return following
        if app == "Gosub":
            self.stack.append(following)
            return self.target(context, exten, args)
        if app == "GosubIf":
            condition, labels = args.split("?", 1)
            yes, _, no = labels.partition(":")
            chosen = yes if _true(condition) else no
            if not chosen:
                return following
            self.stack.append(following)
            return self.target(context, exten, chosen)
        if app == "Return":
            return self.stack.pop()
        raise AssertionError(f"unsupported application {line}")

    def target(self, context: str, exten: str, where: str) -> tuple[str, str, int]:
        """``label``, ``exten,priority`` or ``context,exten,priority`` (priority 1 or a label)."""
        parts = where.split(",")
        if len(parts) == 1:
            label = parts[0]
        else:
            *place, label = parts
            exten = place[-1]
            context = place[0] if len(place) == 2 else context
        priorities = self.plan[context][exten]
        if label == "1":
            return (context, exten, 0)
        index = next(i for i, (name, _) in enumerate(priorities) if name == label)
        return (context, exten, index)

    def in_time(self, spec: str) -> bool:
        """``GotoIfTime(HH:MM-HH:MM,days,*,*,zone)``: both minutes of the range included."""
        times, days, month_days, months, zone = spec.split(",")
        assert (month_days, months) == ("*", "*"), spec
        local = self.at.astimezone(ZoneInfo(zone))
        first, last = (time.fromisoformat(t) for t in times.split("-"))
        minute = local.time().replace(second=0, microsecond=0)
        return _WEEKDAYS[local.weekday()] in days.split("&") and first <= minute <= last


def _application(line: str) -> tuple[str, str]:
    match = re.fullmatch(r"(\w+)\((.*)\)", line)
    assert match is not None, line
    return match[1], match[2]


def _true(condition: str) -> bool:
    value = condition.strip()
    assert value in ("0", "1", ""), condition
    return value == "1"


def walk_fallback(
    plan: dict[str, dict[str, list[Priority]]],
    *,
    context: str,
    dialled: str,
    caller_id: str,
    at: datetime,
) -> FallbackCall:
    """The call from ``caller_id`` to ``dialled`` at ``at``, entering the fallback ``context``."""
    return _Walk(plan, caller_id, at).run(context, dialled)
