"""Websites read out to callers: what validation accepts and refuses, and where the engine
puts them (the prompt in the step the caller hears, the typed ``Decision.websites``, a trace
step)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_engine import SATURDAY_11, TUESDAY_10
from test_rules_properties import INSTANTS, KEYS, LOCATIONS, _known_codes, calling_numbers

from routing_rules.decision import WEBSITE_POINTS, CallContext, PlayMessage, TraceStage, Transfer
from routing_rules.engine import decide
from routing_rules.geoview import GeoLookup
from routing_rules.simulate import simulate_call
from routing_rules.snapshot import RuleSnapshot, snapshot_from_text
from routing_rules.validation import validate_text

AJAX = "    website: https://www.ajax.ca/\n    website_heard_at: [after_hours]\n"
MARKHAM = "    website: https://www.markham.ca/\n"
PICKERING_CITY_HALL = (43.8384, -79.0868)
AJAX_PICKERING = "9052310123"
"""An exchange shared by Ajax (menu key 1) and Pickering (key 2)."""
CLARINGTON = "9056230123"


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def errors(text: str, geo: GeoLookup) -> dict[str, str]:
    return {p.path: p.message for p in validate_text(text, geo).errors}


# -- validation ------------------------------------------------------------------------------


def test_the_demo_rules_read_out_pickering_s_website(durham: RuleSnapshot) -> None:
    heard = durham.rules.websites_heard()
    assert heard["pickering"] == ("after_hours", "before_transfer")
    assert heard["durham"] == ("transfer_failed",)
    assert "toronto" not in heard


def test_an_unknown_point_is_refused_where_it_is_given(durham_text: str, geo: GeoLookup) -> None:
    text = edited(durham_text, AJAX, AJAX.replace("[after_hours]", "[after_hours, on_hold]"))
    message = errors(text, geo)["municipalities[1].website_heard_at[1]"]
    assert "'after_hours', 'before_transfer' or 'transfer_failed'" in message
    assert "on_hold" in message


def test_a_host_sharing_a_municipality_s_id_is_refused(durham_text: str, geo: GeoLookup) -> None:
    """Both would read out the one ``website-pickering`` recording."""
    text = edited(durham_text, "host:\n  id: durham\n", "host:\n  id: pickering\n")
    message = errors(text, geo)["host.id"]
    assert "'pickering' is also municipalities[0].id" in message
    assert "website-pickering" in message


def test_a_point_named_twice_is_refused(durham_text: str, geo: GeoLookup) -> None:
    text = edited(durham_text, AJAX, AJAX.replace("[after_hours]", "[after_hours, after_hours]"))
    assert errors(text, geo) == {
        "municipalities[1].website_heard_at[1]": "'after_hours' is named twice"
    }


def test_a_website_read_out_must_be_given(durham_text: str, geo: GeoLookup) -> None:
    text = edited(durham_text, AJAX, "    website_heard_at: [after_hours]\n")
    assert errors(text, geo) == {
        "municipalities[1].website_heard_at": "ajax's website is read out but not given: "
        "add website:"
    }


def test_a_website_without_a_recording_is_refused_by_name(durham_text: str, geo: GeoLookup) -> None:
    text = edited(durham_text, MARKHAM, MARKHAM + "    website_heard_at: [before_transfer]\n")
    found = errors(text, geo)
    path = next(p for p in found if p.endswith(".website_heard_at"))
    assert "no recording of markham's website" in found[path]
    assert "website-markham" in found[path] and "recordings/manifest.yaml" in found[path]


def test_the_host_may_read_out_its_website_too(cape_breton_text: str, geo: GeoLookup) -> None:
    report = validate_text(cape_breton_text, geo)
    assert report.ok and report.rules is not None
    assert report.rules.websites_heard() == {"cape-breton": ("after_hours",)}


POINT_LIKE = st.one_of(
    st.sampled_from(WEBSITE_POINTS), st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=16)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(POINT_LIKE, max_size=5))
def test_any_list_of_points_is_accepted_only_when_each_is_known_and_named_once(
    points: list[str], durham_text: str, geo: GeoLookup
) -> None:
    listed = "[" + ", ".join(f'"{p}"' for p in points) + "]"
    text = edited(durham_text, AJAX, AJAX.replace("[after_hours]", listed))
    found = errors(text, geo)
    expected = set()
    for i, point in enumerate(points):
        if point not in WEBSITE_POINTS or point in points[:i]:
            expected.add(f"municipalities[1].website_heard_at[{i}]")
    assert set(found) == expected
    if not expected:
        report = validate_text(text, geo)
        assert report.rules is not None
        assert report.rules.municipalities[1].website_heard_at == points


# -- the engine ------------------------------------------------------------------------------


def test_after_hours_the_known_resident_hears_their_website(durham: RuleSnapshot) -> None:
    decision = simulate_call(durham, calling=CLARINGTON, at=SATURDAY_11).decision
    assert isinstance(decision.step, Transfer) and decision.step.kind == "after_hours"
    assert [w.owner_id for w in decision.websites] == ["clarington", "durham"]
    assert [w.point for w in decision.websites] == ["after_hours", "transfer_failed"]
    assert decision.step.announce[-1].id == "website-clarington"
    website = next(t for t in decision.trace if t.stage is TraceStage.WEBSITE)
    assert website.rule.endswith(".website_heard_at") and "website-clarington" in website.result


def test_after_hours_a_caller_who_must_be_asked_hears_the_host_s_or_none(
    durham: RuleSnapshot,
) -> None:
    decision = simulate_call(durham, calling=AJAX_PICKERING, at=SATURDAY_11).decision
    assert [w.point for w in decision.websites] == ["transfer_failed"]


def test_a_located_pickering_caller_hears_pickering_dot_ca(durham: RuleSnapshot) -> None:
    ctx = CallContext(
        "311", AJAX_PICKERING, SATURDAY_11, location=PICKERING_CITY_HALL, greeting_done=True
    )
    decision = decide(durham, ctx)
    assert decision.websites[0].owner_id == "pickering"
    assert decision.websites[0].point == "after_hours"


@pytest.mark.parametrize(("language", "recorded"), [("en", "en"), ("fr", "fr_CA")])
def test_before_the_transfer_to_pickering_in_the_caller_s_language(
    durham: RuleSnapshot, language: str, recorded: str
) -> None:
    ctx = CallContext(
        "311", AJAX_PICKERING, TUESDAY_10, language=language, greeting_done=True, digits=("2",)
    )
    decision = decide(durham, ctx)
    step = decision.step
    assert isinstance(step, Transfer) and step.municipality_id == "pickering"
    assert step.announce[0].id == "website-pickering"
    assert step.announce[0].language == recorded
    assert [p.id for p in step.announce[1:]] == ["transferring", "please-hold"]
    assert [w.id for w in step.final_message][-2:] == ["website-durham", "goodbye"]


def test_no_website_before_a_transfer_where_none_is_named(durham: RuleSnapshot) -> None:
    ctx = CallContext("311", AJAX_PICKERING, TUESDAY_10, greeting_done=True, digits=("1",))
    step = decide(durham, ctx).step
    assert isinstance(step, Transfer) and step.municipality_id == "ajax"
    assert not any(p.id.startswith("website-") for p in step.announce)


def test_a_rule_set_that_names_no_point_reads_out_nothing(durham_text: str, geo: GeoLookup) -> None:
    bare = "\n".join(line for line in durham_text.splitlines() if "website_heard_at" not in line)
    snapshot = snapshot_from_text(bare, geo, source="bare")
    for at in (TUESDAY_10, SATURDAY_11):
        decision = simulate_call(snapshot, calling=CLARINGTON, at=at).decision
        step = decision.step
        assert isinstance(step, Transfer | PlayMessage)
        assert decision.websites == ()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_website_read_out_is_heard_once_in_the_caller_s_language(
    data: st.DataObject, durham: RuleSnapshot, geo: GeoLookup
) -> None:
    language = data.draw(st.sampled_from(["en", "fr"]))
    ctx = CallContext(
        dialled="311",
        calling=data.draw(calling_numbers(_known_codes(geo))),
        at=data.draw(INSTANTS),
        location=data.draw(LOCATIONS),
        language=language,
        greeting_done=True,
        digits=tuple(data.draw(st.lists(KEYS, max_size=3))),
    )
    decision = decide(durham, ctx)
    step = decision.step
    if isinstance(step, Transfer):
        heard = (*step.announce, *step.final_message)
    elif isinstance(step, PlayMessage):
        heard = step.prompts
    else:
        heard = ()
    assert [p for p in heard if p.id.startswith("website-")] == [
        w.prompt for w in decision.websites
    ]
    assert {w.prompt.language for w in decision.websites} <= {"fr_CA" if language == "fr" else "en"}
    points = [w.point for w in decision.websites]
    assert len(set(points)) == len(points)
    assert ("after_hours" in points) <= decision.after_hours
    assert ("before_transfer" in points) <= (not decision.after_hours)
    for website in decision.websites:
        assert website.point in durham.rules.websites_heard()[website.owner_id]
