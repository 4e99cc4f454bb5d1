"""Transfers handed to the dialplan, made by hand for the tests of the transfer context (on the
simulated switch and on a real Asterisk): a plan's links, the saved state that carries the
plan, and the course the context's marks tell, written short. Importable from every test
folder as ``from transfer_plan_testing import ...`` (pytest puts ``tests/`` on ``sys.path``
for its ``conftest.py``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dialplan.transfer_plan import PLAN_KEY, Mark, PlanLink, TransferPlan, dial_arguments


def plan_link(
    dial_string: str,
    *,
    whisper: str,
    accept_key: str,
    ring_timeout_s: float,
    moh_class: str | None = None,
    caller_id: str = "",
) -> PlanLink:
    """A link that dials ``dial_string`` as the controller writes it (`dial_arguments`)."""
    dial = dial_arguments(dial_string, ring_timeout_s, moh_class, caller_id)
    assert dial is not None, f"{dial_string!r} would not survive as a Dial() argument"
    return PlanLink(dial, whisper, accept_key)


def saved_state(plan: TransferPlan) -> str:
    """The caller's saved state (``IVR311_STATE``) with ``plan``, all the context reads of it."""
    return json.dumps({PLAN_KEY: plan.as_json()}, separators=(",", ":"))


def course(marks: Sequence[Mark]) -> str:
    """The marks without their times, space-separated: the kind, then the link (``d0``), and
    for a dial's end its status and cause (``e0:BUSY:17``; ``e0:NOANSWER`` when it left no
    cause), e.g. ``h d0 e0:BUSY:17 m z``."""
    return " ".join(_short(mark) for mark in marks)


def _short(mark: Mark) -> str:
    linked = mark.kind if mark.link is None else f"{mark.kind}{mark.link}"
    if mark.kind != "e":
        return linked
    return f"{linked}:{mark.status}" + ("" if mark.cause is None else f":{mark.cause}")
