"""The generated contexts of a transfer handed over to the dialplan agree with the plan the
controller writes (`dialplan.transfer_plan`) and with what the controller reads back: every
plan member they read exists in a plan, every mark they write parses, and Asterisk loads and
sends what they need."""

from __future__ import annotations

import configparser
import re
from typing import Any

from dialplan.asterisk_conf import TEMPLATES_DIR
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from dialplan.transfer_context import transfer_contexts
from dialplan.transfer_plan import (
    OUTCOME_VARIABLE,
    PLAN_KEY,
    TRANSFER_CONTEXT,
    WHISPER_CONTEXT,
    PlanLink,
    TransferPlan,
    dial_arguments,
    parse_outcome,
)
from routing_rules.snapshot import load_snapshot

PLAN = TransferPlan(
    "fr_CA/ivr311/transferring",
    (
        PlanLink(dial_arguments("PJSIP/+19055550111@centres", 20, "default", "") or "", "w", "1"),
        PlanLink(dial_arguments("PJSIP/+19055550122@centres", 20, None, "3110") or "", "w", ""),
    ),
    "fr_CA/ivr311/callback",
    8,
)
SUBSTITUTED = {
    '${IF($["${DIALSTATUS}" = "NOANSWER"]?:${HANGUPCAUSE})}': "17",
    "${STRFTIME(,,%s.%3q)}": "1765071234.567",
    "${IVR311_LINK}": "1",
    "${DIALSTATUS}": "BUSY",
}
"""What Asterisk puts in place of each expression of a mark, as a call would have it (outer
expressions first)."""


def text() -> str:
    """The contexts as the rendered dialplan has them."""
    return "\n\n".join("\n".join(lines) for lines in transfer_contexts())


def json_decode(data: Any, path: str) -> Any:
    """Asterisk's JSON_DECODE path: members and array indexes separated by dots."""
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def test_every_plan_member_the_contexts_read_is_in_the_plan_the_controller_writes() -> None:
    state = {PLAN_KEY: PLAN.as_json()}
    paths = re.findall(r"\$\{JSON_DECODE\(IVR311_STATE,([^,)]+)", text())
    assert {p.split(".")[1] for p in paths} == {"a", "c", "x", "f"}
    for path in paths:
        for link in range(len(PLAN.links)):
            assert json_decode(state, path.replace("${IVR311_LINK}", str(link))) is not None


def test_every_mark_the_contexts_write_parses_as_the_controller_reads_it() -> None:
    appended = rf"\$\{{(?:IMPORT\(\$\{{IVR311_CALLER\}},)?{OUTCOME_VARIABLE}\)?\}} ([a-z]:.*)\)$"
    marks = re.findall(appended, text(), flags=re.MULTILINE)
    kinds = []
    for template in marks:
        mark = template
        for expression, value in SUBSTITUTED.items():
            mark = mark.replace(expression, value)
        assert "$" not in mark and "," not in mark, template
        (parsed,) = parse_outcome(mark)
        kinds.append(parsed.kind)
        assert parsed.at == 1765071234.567
    assert sorted(kinds) == sorted("hdawkemz")


def test_the_contexts_are_in_every_rendered_dialplan_whatever_the_rules() -> None:
    for name in ("durham", "cape-breton"):
        rendered = render_dialplan(load_snapshot(name), DialplanOptions())
        assert text() in rendered
        for context in (TRANSFER_CONTEXT, WHISPER_CONTEXT):
            assert rendered.count(f"\n[{context}]\n") == 1


def test_each_link_dials_with_the_whisper_subroutine_and_the_caller_goes_on() -> None:
    dial = PLAN.links[0].dial
    assert dial.endswith(f"U({WHISPER_CONTEXT})") and ",g" in dial
    assert "Dial(${JSON_DECODE(IVR311_STATE,t.c.${IVR311_LINK}.d)})" in text()


def test_asterisk_sends_the_outcome_and_loads_what_the_contexts_use() -> None:
    ari = configparser.ConfigParser(interpolation=None, strict=False)
    ari.read_string((TEMPLATES_DIR / "ari.conf").read_text(encoding="utf-8"))
    assert OUTCOME_VARIABLE in ari["general"]["channelvars"].split(",")
    modules = (TEMPLATES_DIR / "modules.conf").read_text(encoding="utf-8")
    loaded = set(re.findall(r"^load => (\S+)\.so$", modules, flags=re.MULTILINE))
    needed = {"app_dial", "app_read", "app_playback", "app_stack", "app_exec"}
    needed |= {"func_json", "func_strings", "func_channel", "func_logic", "res_musiconhold"}
    assert needed <= loaded
