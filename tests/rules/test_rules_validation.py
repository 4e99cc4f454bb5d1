"""Validation: every error at once, each with the path to its field."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing_rules.geoview import GeoLookup
from routing_rules.rulefile import format_path
from routing_rules.validation import parse_rules, validate_text


def mutate(text: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("name", ["durham", "cape-breton"])
def test_demo_rule_sets_are_valid(name: str, geo: GeoLookup) -> None:
    from routing_rules.snapshot import DEMO_DIR

    report = validate_text((DEMO_DIR / f"{name}.yaml").read_text(encoding="utf-8"), geo)
    assert report.errors == ()
    assert report.rules is not None and report.rules.demo


def test_schema_errors_are_all_reported_with_paths(durham_text: str, geo: GeoLookup) -> None:
    bad = mutate(
        durham_text,
        ('dial: "+19055550110"', 'dial: "905-555-0110"'),
        (
            "  durham-hours:\n    timezone: America/Toronto",
            "  durham-hours:\n    timezone: Mars/Base",
        ),
        ('open: "08:30", close: "16:30"', "open: 08:30, close: 16:30"),
        ('province: "ON"', "province: ON"),
        ('{kind: toll-free, number: "+18005550100"}', '{kind: toll-free, number: "+19055550103"}'),
        (
            "  website: https://www.durham.ca/\n",
            "  website: https://www.durham.ca/\n  colour: blue\n",
        ),
        ("dominance_share: 0.9 ", "dominance_share: 0.4 "),
        ("effective_until: 2027-01-15", "effective_until: 2020-01-15"),
        ("end: 2026-12-24T16:30:00", "end: 2026-12-24T11:00:00"),
        ('key: "9"', 'key: "x"'),
        ('      dial: "+17055550120"', '      dial: "sip:kawartha"'),
    )
    report = validate_text(bad, geo)
    assert not report.ok
    messages = {p.path: p.message for p in report.errors}
    expected = {
        "municipalities[0].destinations[0].dial": "not an E.164 number",
        "schedules.durham-hours.timezone": "not an IANA time zone",
        "schedules.durham-hours.weekly[0].close": "quote times",
        "host.province": "quote province codes",
        "host.numbers[2].number": "not a NANP toll-free number",
        "host.colour": "unknown field",
        "overlap_policy.dominance_share": "greater than 0.5",
        "arrangements[0].effective_until": "earlier than effective_from",
        "schedules.durham-hours.exceptions[0].end": "later than start",
        "languages.offered[1].key": "not a telephone key",
        "municipalities[8].destinations[0].dial": "not a SIP URI",
    }
    for path, fragment in expected.items():
        assert path in messages, f"{path} missing from {sorted(messages)}"
        assert fragment in messages[path], (path, messages[path])
    assert str(report.errors[0]).startswith(report.errors[0].path + ": ")


def test_cross_checks_are_all_reported_with_paths(durham_text: str, geo: GeoLookup) -> None:
    bad = mutate(
        durham_text,
        ("  - sunderland\n", "  - sunderland\n  - atlantis\n"),
        ("  - id: brock\n", "  - id: brockville\n"),
        ("fallback: [durham-agents, message]", "fallback: [durham-agentz, message]"),
        (
            '        label: Markham contact centre\n        dial: "+19055550140"\n'
            "        schedule: ontario-business-hours\n        fallback: [message]",
            '        label: Markham contact centre\n        dial: "+19055550140"\n'
            "        schedule: ontario-business-hours",
        ),
        (
            '        label: Georgina customer service\n        dial: "+19055550170"\n'
            "        schedule: ontario-business-hours\n        fallback: [message]",
            '        label: Georgina customer service\n        dial: "+19055550170"\n'
            "        schedule: nowhere-hours\n        fallback: [message, durham-agents]",
        ),
        ('dial: "+14165550130"', 'dial: "+14163921234"'),
        ("greeting: [host-durham, greeting]", "greeting: [host-durham, welcome-aboard]"),
        ("  agents: durham-agents", "  agents: pickering-ccc"),
        ("destination: durham-after-hours", "destination: nightline"),
        (
            '{days: [mon, tue, wed, thu, fri], open: "08:30", close: "16:30"}',
            '{days: [mon, tue, wed, thu, fri], open: "08:30", close: "16:30"}\n'
            '      - {days: [fri], open: "16:00", close: "18:00"}',
        ),
        (
            "  - id: port-hope-transfer\n",
            "  - id: pickering-overlap\n    municipality: pickering\n    route: host-agents\n"
            "    effective_from: 2026-01-01\n  - id: port-hope-transfer\n",
        ),
        ("    route: port-hope-cc\n", "    route: port-hope-office\n"),
    )
    report = validate_text(bad, geo)
    messages = {p.path: p.message for p in report.errors}
    expected = {
        "exchanges[17]": "unknown exchange 'atlantis'",
        "municipalities[7].id": "unknown municipality 'brockville'",
        "municipalities[0].destinations[0].fallback[0]": "unknown destination 'durham-agentz'",
        "municipalities[10].destinations[0].fallback": "not open 24/7",
        "municipalities[13].destinations[0].schedule": "no schedule named 'nowhere-hours'",
        "municipalities[13].destinations[0].fallback[0]": "'message' ends a chain",
        "municipalities[9].destinations[0].dial": "555-01xx numbers only",
        "prompts.greeting[1]": "no recording named 'welcome-aboard'",
        "host.agents": "not one of host.destinations",
        "after_hours.destination": "unknown destination 'nightline'",
        "schedules.durham-hours.weekly[1]": "overlaps weekly[0] on fri",
        "arrangements[1].effective_from": "overlaps arrangements[0]",
        "arrangements[2].route": "neither a destination nor 'host-agents'",
    }
    for path, fragment in expected.items():
        assert path in messages, f"{path} missing from {sorted(messages)}"
        assert fragment in messages[path], (path, messages[path])
    assert report.rules is None


def test_neighbour_needs_a_contact_centre(cape_breton_text: str, geo: GeoLookup) -> None:
    bad = mutate(
        cape_breton_text,
        (
            "    destinations:\n      - id: eskasoni-band-office\n"
            "        label: Eskasoni band office\n"
            '        dial: "+19025550140"\n        schedule: county-hours\n'
            "        fallback: [cbrm-agents, message]\n",
            "",
        ),
    )
    messages = {p.path: p.message for p in validate_text(bad, geo).errors}
    assert "contact centre" in messages["municipalities[4].destinations"]


def test_duplicate_destination_ids(cape_breton_text: str, geo: GeoLookup) -> None:
    bad = mutate(cape_breton_text, ("- id: richmond-county-office", "- id: victoria-county-office"))
    messages = {p.path: p.message for p in validate_text(bad, geo).errors}
    assert "used twice" in messages["municipalities[3].destinations[0].id"]


def test_yaml_syntax_error_names_the_line(geo: GeoLookup) -> None:
    report = validate_text("host:\n  id: [unclosed\n", geo)
    assert not report.ok
    assert report.errors[0].path.startswith("line ")


@pytest.mark.parametrize("text", ["", "just a string", "- a\n- list\n", "42"])
def test_not_a_mapping(text: str, geo: GeoLookup) -> None:
    report = validate_text(text, geo)
    assert not report.ok and "mapping" in report.errors[0].message


def test_missing_sections_are_named(geo: GeoLookup) -> None:
    report = validate_text("format: 1\n", geo)
    paths = {p.path for p in report.errors}
    assert {
        "host",
        "exchanges",
        "municipalities",
        "overlap_policy",
        "schedules",
        "languages",
    } <= paths


def test_yaml_tags_are_not_executed(geo: GeoLookup) -> None:
    report = validate_text("!!python/object/apply:os.system ['true']\n", geo)
    assert not report.ok


def test_format_path() -> None:
    assert (
        format_path(("municipalities", 3, "destinations", 0)) == "municipalities[3].destinations[0]"
    )
    assert format_path(("schedules", "durham-hours", "weekly", 1, "close")) == (
        "schedules.durham-hours.weekly[1].close"
    )


@given(st.text(max_size=200))
def test_any_text_gives_a_report_never_an_exception(text: str) -> None:
    rules, problems = parse_rules(text)
    assert (rules is None) == bool(problems)


def test_schema_errors_do_not_hide_the_cross_checks(durham_text: str, geo: GeoLookup) -> None:
    bad = mutate(
        durham_text,
        # schema errors
        ('dial: "+19055550110"', 'dial: "905-555-0110"'),
        (
            "  durham-hours:\n    timezone: America/Toronto",
            "  durham-hours:\n    timezone: Mars/Base",
        ),
        ('province: "ON"', "province: ON"),
        # cross-check errors, in the same file
        ("  - sunderland\n", "  - sunderland\n  - atlantis\n"),
        ("  - id: brock\n", "  - id: brockville\n"),
        ("fallback: [durham-agents, message]", "fallback: [durham-agentz, message]"),
        ('dial: "+14165550130"', 'dial: "+14163921234"'),
        ("      fallback: [message]\n", "      fallback: [message, durham-after-hours]\n"),
    )
    report = validate_text(bad, geo)
    messages = {p.path: p.message for p in report.errors}
    expected = {
        "municipalities[0].destinations[0].dial": "not an E.164 number",
        "schedules.durham-hours.timezone": "not an IANA time zone",
        "host.province": "quote province codes",
        "exchanges[17]": "unknown exchange 'atlantis'",
        "municipalities[7].id": "unknown municipality 'brockville'",
        "municipalities[0].destinations[0].fallback[0]": "unknown destination 'durham-agentz'",
        "municipalities[9].destinations[0].dial": "555-01xx numbers only",
        "host.destinations[0].fallback[0]": "'message' ends a chain",
    }
    for path, fragment in expected.items():
        assert path in messages, f"{path} missing from {sorted(messages)}"
        assert fragment in messages[path], (path, messages[path])
    # A field the schema refused is reported once: the bad dial is not also "not fictional".
    paths = [p.path for p in report.errors]
    assert len(paths) == len(set(paths)), paths
    assert report.rules is None


def test_references_to_a_part_the_schema_refused_are_not_reported_as_unknown(
    durham_text: str, geo: GeoLookup
) -> None:
    # Service Durham's agents lose their schedule: the host, many fallback chains and an
    # arrangement still name them, and a schedule with a bad time zone is still a schedule.
    bad = mutate(
        durham_text,
        (
            '      dial: "+19055550101"\n      schedule: durham-hours\n',
            '      dial: "+19055550101"\n',
        ),
        ("    timezone: America/Toronto", "    timezone: Mars/Base"),
        ("  - sunderland\n", "  - sunderland\n  - atlantis\n"),
    )
    report = validate_text(bad, geo)
    assert {str(p) for p in report.errors} == {
        "host.destinations[0].schedule: Field required",
        "schedules.durham-hours.timezone: not an IANA time zone (like America/Toronto) "
        "(got 'Mars/Base')",
        "exchanges[17]: unknown exchange 'atlantis' (not in the geodata)",
    }


def test_a_file_missing_whole_sections_still_gets_its_other_parts_checked(geo: GeoLookup) -> None:
    text = "format: 1\nexchanges: [whitby, atlantis]\nprompts: {greeting: [no-such-prompt]}\n"
    messages = {p.path: p.message for p in validate_text(text, geo).errors}
    assert "host" in messages and "municipalities" in messages
    assert "unknown exchange 'atlantis'" in messages["exchanges[1]"]
    assert "no recording named 'no-such-prompt'" in messages["prompts.greeting[0]"]


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["+19055550100", "sip:x@y", "durham-agents", "message", "member", "08:30"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.dates(),
)


def _paths(node: object, loc: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [loc] if loc else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*loc, i))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_damage_to_a_rule_set_gives_a_report_never_an_exception(
    data: st.DataObject, durham_text: str, geo: GeoLookup
) -> None:
    rules = yaml.safe_load(durham_text)
    for _ in range(data.draw(st.integers(1, 6))):
        *parents, last = data.draw(st.sampled_from(_paths(rules)))
        node = rules
        for key in parents:
            node = node[key]
        if isinstance(node, dict) and data.draw(st.booleans()):
            del node[last]
        else:
            node[last] = data.draw(JUNK)
    report = validate_text(yaml.safe_dump(rules, sort_keys=False), geo)
    assert report.ok == (report.rules is not None)
    assert all(isinstance(p.path, str) and p.message for p in report.errors)


def test_duplicate_keys_are_refused_with_line_and_path(durham_text: str, geo: GeoLookup) -> None:
    bad = mutate(
        durham_text,
        ("  max_menu_options: 4\n", "  max_menu_options: 4\n  max_menu_options: 9\n"),
        (
            '      dial: "+19055550101"\n',
            '      dial: "+19055550101"\n      dial: "+19055550109"\n',
        ),
        ("{kind: ten-digit, number:", "{kind: ten-digit, kind: ten-digit, number:"),
    )
    lines = bad.splitlines()

    def line_of(fragment: str, nth: int = 0) -> int:
        return [i for i, line in enumerate(lines, start=1) if fragment in line][nth]

    report = validate_text(bad, geo)
    messages = {p.path: p.message for p in report.errors}
    assert messages["overlap_policy.max_menu_options"] == (
        f"duplicate key 'max_menu_options' on line {line_of('max_menu_options', 1)} "
        f"(first given on line {line_of('max_menu_options')}); give each key once"
    )
    assert f"on line {line_of('+19055550109')}" in messages["host.destinations[0].dial"]
    assert messages["host.numbers[1].kind"] == (
        f"duplicate key 'kind' on line {line_of('kind: ten-digit')}, column 25 (first given at "
        "column 8); give each key once"
    )
    assert report.rules is None
    rules, problems = parse_rules(bad)
    assert rules is None and len(problems) == 3


def test_duplicate_top_level_sections_are_refused(durham_text: str, geo: GeoLookup) -> None:
    report = validate_text(durham_text + "\nexchanges: [whitby]\n", geo)
    assert [p.path for p in report.errors] == ["exchanges"]
    assert "duplicate key 'exchanges'" in report.errors[0].message


def test_equal_keys_written_differently_are_duplicates(geo: GeoLookup) -> None:
    rules, problems = parse_rules("schedules: {1: a, 01: b}\n")
    assert rules is None
    assert [p.path for p in problems][:1] == ["schedules.1"]
