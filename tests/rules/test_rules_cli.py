"""``ivr311 rules ...`` and ``ivr311 simulate`` end to end, through the argument parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr311.cli import main
from routing_rules.cli_output import conflict_message
from routing_rules.snapshot import DEMO_DIR
from routing_rules.storage.errors import ConflictCause, ConflictError


def run(argv: list[str]) -> int:
    """The ``ivr311`` command as a user runs it, error boundary included."""
    return main(argv)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("IVR311_DATABASE_URL", url)
    return url


def simulate_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert run(["simulate", "--json", *argv]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_validate_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "validate", "durham"]) == 0
    out = capsys.readouterr().out
    assert "durham: valid" in out
    assert (
        "durham: request status check (Open311): durham (key *, budget 1500 ms, "
        "http://127.0.0.1:8320/)" in out
    )
    assert "durham: website read out: pickering (after_hours, before_transfer); ajax" in out


def test_validate_says_when_no_one_offers_a_status_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["rules", "validate", "cape-breton"]) == 0
    assert "request status check (Open311): not offered" in capsys.readouterr().out
    assert run(["rules", "validate", "--json", "durham"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status_check"] == {"durham": {"base_url": "http://127.0.0.1:8320/", "key": "*"}}


def test_validate_bad_file_lists_every_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace('dial: "+19055550110"', 'dial: "905-555-0110"').replace(
            "timezone: America/Toronto", "timezone: Toronto", 1
        ),
        encoding="utf-8",
    )
    assert run(["rules", "validate", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "municipalities[0].destinations[0].dial: not an E.164 number" in out
    assert "schedules.durham-hours.timezone: not an IANA time zone" in out
    assert run(["rules", "validate", "--json", str(bad)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and len(report["errors"]) == 2


def test_validate_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "validate", "/nonexistent/rules.yaml"]) == 1
    assert "error:" in capsys.readouterr().err


def test_apply_export_edit_apply_history_diff_rollback_show(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "apply", "durham", "--author", "alice", "-m", "initial"]) == 0
    assert "version 1 is active" in capsys.readouterr().out

    # Applying again without saying where the change started is refused.
    assert run(["rules", "apply", "cape-breton", "-m", "oops"]) == 1
    assert "--base" in capsys.readouterr().err

    exported = tmp_path / "rules.yaml"
    assert run(["rules", "export", "-o", str(exported)]) == 0
    capsys.readouterr()
    text = exported.read_text(encoding="utf-8")
    assert text.startswith("# ivr311 base-version: 1\n")
    exported.write_text(text.replace("ring_timeout_s: 20", "ring_timeout_s: 30"), encoding="utf-8")
    stale = tmp_path / "stale.yaml"
    stale.write_text(text.replace("ring_timeout_s: 20", "ring_timeout_s: 40"), encoding="utf-8")

    assert run(["rules", "apply", str(exported), "--author", "bob", "-m", "longer ring"]) == 0
    assert "version 2 is active (was 1)" in capsys.readouterr().out

    assert run(["rules", "apply", str(stale), "--author", "carol", "-m", "mine"]) == 3
    refusal = capsys.readouterr().err
    assert "conflict: you started from version 1 but version 2 is active" in refusal
    assert "apply again with --base 2" in refusal

    assert run(["rules", "history"]) == 0
    history = capsys.readouterr().out
    assert "*   2" in history and "bob" in history and "longer ring" in history
    assert "alice" in history and "initial" in history

    assert run(["rules", "diff", "1", "2"]) == 0
    patch = capsys.readouterr().out
    assert "-  ring_timeout_s: 20" in patch and "+  ring_timeout_s: 30" in patch

    assert run(["rules", "diff", str(stale)]) == 0
    assert "+  ring_timeout_s: 40" in capsys.readouterr().out

    assert run(["rules", "rollback", "1", "--author", "dave", "-m", "ring was fine"]) == 0
    assert "version 1 is active (was 2)" in capsys.readouterr().out

    assert run(["rules", "show"]) == 0
    shown = capsys.readouterr().out
    assert "version 1 (active)" in shown and "by alice: initial" in shown
    assert "pickering" in shown and "participation model 1" in shown
    assert "request status check (Open311): durham (key *" in shown

    assert run(["rules", "export", "2"]) == 0
    assert "ring_timeout_s: 30" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("conflict", "says"),
    [
        (
            ConflictError(1, 2),
            "conflict: you started from version 1 but version 2 is active now; export version 2,"
            " merge your change into it and apply again with --base 2",
        ),
        (
            ConflictError(None, 1, ConflictCause.CONCURRENT),
            "conflict: you started from an empty store but version 1 is active now (activated "
            "concurrently); export version 1, merge your change into it and apply again with "
            "--base 1",
        ),
        (
            ConflictError(3, None, ConflictCause.CONCURRENT),
            "conflict: you started from version 3 but another change was activated while this "
            "one was saved; export the active version, merge your change into it and apply "
            "again with --base and its number",
        ),
    ],
)
def test_a_conflict_names_the_version_to_start_again_from(
    conflict: ConflictError, says: str
) -> None:
    assert conflict_message(conflict) == says


def test_apply_invalid_file_exits_2_and_changes_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: {}\n", encoding="utf-8")
    assert run(["rules", "apply", str(bad), "-m", "broken"]) == 2
    assert "nothing changed" in capsys.readouterr().err
    assert run(["rules", "history"]) == 0
    assert "no versions stored yet" in capsys.readouterr().out


def test_show_demo_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "show", "cape-breton"]) == 0
    out = capsys.readouterr().out
    assert "CBRM 311" in out and "America/Halifax" in out and "eskasoni" in out


def test_show_says_who_offers_a_status_check_and_whose_website_is_read_out_as_validate_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pickering's server is named without the credentials its address could carry; the API
    key itself never sits in the rules."""
    site = "    website: https://www.pickering.ca/\n"
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    assert site in text
    own = (
        '    open311: {base_url: "https://clerk:s3cret@open311.pickering.ca/v2/?token=s3cret",'
        ' api_key_env: PICKERING_311_KEY, budget_ms: 800, key: "*"}\n'
    )
    rules = tmp_path / "pickering-status.yaml"
    rules.write_text(text.replace(site, site + own, 1), encoding="utf-8")
    assert run(["rules", "validate", str(rules)]) == 0
    validated = capsys.readouterr().out
    assert run(["rules", "show", str(rules)]) == 0
    shown = capsys.readouterr().out.splitlines()
    offers = (
        "request status check (Open311): pickering (key *, budget 800 ms, "
        "https://open311.pickering.ca/v2/), durham (key *, budget 1500 ms, "
        "http://127.0.0.1:8320/)"
    )
    heard = "website read out: pickering (after_hours, before_transfer); ajax (after_hours)"
    assert offers in shown and f"{rules}: {offers}" in validated
    assert any(line.startswith(heard) for line in shown)
    assert [line for line in shown if line.startswith("website")] == [
        line.removeprefix(f"{rules}: ")
        for line in validated.splitlines()
        if line.startswith(f"{rules}: website")
    ]
    assert "s3cret" not in "\n".join(shown) + validated


def test_simulate_bowmanville(capsys: pytest.CaptureFixture[str]) -> None:
    result = simulate_json(
        capsys, "--rules", "durham", "--from", "9056230123", "--at", "2026-11-24T10:00"
    )
    assert result["outcome"] == {
        "action": "agent",
        "kind": "agent",
        "municipality": "clarington",
        "destination": "durham-agents",
        "dial": "+19055550101",
        "chain": ["durham-agents"],
    }
    stages = [step["stage"] for step in result["trace"]]  # type: ignore[attr-defined]
    assert "exchange" in stages and "menu" not in stages


def test_simulate_ajax_pickering_menu_then_pickering(capsys: pytest.CaptureFixture[str]) -> None:
    menu = simulate_json(capsys, "--from", "9052310123", "--at", "2026-11-24T10:00")
    assert menu["outcome"]["action"] == "menu"  # type: ignore[index]
    assert menu["outcome"]["options"] == {"1": "ajax", "2": "pickering"}  # type: ignore[index]
    chosen = simulate_json(
        capsys, "--from", "9052310123", "--at", "2026-11-24T10:00", "--press", "2"
    )
    assert chosen["outcome"]["action"] == "transfer"  # type: ignore[index]
    assert chosen["outcome"]["destination"] == "pickering-ccc"  # type: ignore[index]


def test_simulate_after_hours_and_greeting_zero(capsys: pytest.CaptureFixture[str]) -> None:
    evening = simulate_json(capsys, "--from", "9056230123", "--at", "2026-12-24T18:00")
    assert evening["outcome"]["kind"] == "after_hours"  # type: ignore[index]
    agent = simulate_json(
        capsys, "--from", "9059860123", "--at", "2026-11-24T10:00", "--greeting-key", "0"
    )
    assert agent["outcome"]["action"] == "agent"  # type: ignore[index]


def test_simulate_location_and_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        [
            "simulate",
            "--from",
            "anonymous",
            "--at",
            "2026-11-24T10:00",
            "--lat",
            "43.9107",
            "--lon",
            "-79.1427",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "location 43.9107,-79.1427" in out
    assert "Pickering Customer Care Centre" in out
    assert "outcome: municipality transfer (resident of pickering)" in out


def test_simulate_needs_both_coordinates(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--lat", "43.9"]) == 1


def test_simulate_from_the_store(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--store"]) == 1
    assert "no rule store yet" in capsys.readouterr().err
    assert run(["rules", "apply", "cape-breton", "-m", "cbrm"]) == 0
    capsys.readouterr()
    result = simulate_json(capsys, "--store", "--from", "9022020123", "--at", "2026-11-24T10:00")
    assert result["outcome"]["destination"] == "cbrm-agents"  # type: ignore[index]
    assert result["rules"]["version"] == 1  # type: ignore[index]


def test_validate_lists_schema_and_cross_check_errors_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    edits = [
        ('dial: "+19055550110"', 'dial: "905-555-0110"'),
        ("timezone: America/Toronto", "timezone: Toronto"),
        ("  - sunderland\n", "  - sunderland\n  - atlantis\n"),
        ("  - id: brock\n", "  - id: brockville\n"),
        ("fallback: [durham-agents, message]", "fallback: [durham-agentz, message]"),
        ('dial: "+14165550130"', 'dial: "+14163921234"'),
    ]
    for old, new in edits:
        text = text.replace(old, new, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    assert run(["rules", "validate", str(bad)]) == 2
    out = capsys.readouterr().out
    for line in [
        "municipalities[0].destinations[0].dial: not an E.164 number",
        "schedules.durham-hours.timezone: not an IANA time zone",
        "exchanges[17]: unknown exchange 'atlantis'",
        "municipalities[7].id: unknown municipality 'brockville'",
        "municipalities[0].destinations[0].fallback[0]: unknown destination 'durham-agentz'",
        "municipalities[9].destinations[0].dial: a demo rule set uses 555-01xx numbers only",
    ]:
        assert f"{bad}: error: {line}" in out, out
    assert f"{bad}: 6 error(s)" in out


def test_validate_refuses_duplicate_keys_naming_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    twice = text.replace(
        "  max_menu_options: 4\n", "  max_menu_options: 4\n  max_menu_options: 9\n"
    )
    line = twice.splitlines().index("  max_menu_options: 9") + 1
    path = tmp_path / "twice.yaml"
    path.write_text(twice, encoding="utf-8")
    assert run(["rules", "validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert (
        f"{path}: error: overlap_policy.max_menu_options: duplicate key 'max_menu_options' on "
        f"line {line} (first given on line {line - 1})"
    ) in out


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--rules", "nosuch"],
        ["rules", "validate", "nosuch"],
        ["rules", "show", "nosuch"],
        ["rules", "diff", "nosuch", "durham"],
    ],
)
def test_rules_that_are_neither_a_demo_nor_a_file_are_named(
    argv: list[str], db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert (
        "error: 'nosuch' is neither a demo rule set (durham, cape-breton) nor a readable file "
        "(No such file or directory)"
    ) in err
    assert "Errno" not in err


def test_apply_reports_every_error_before_asking_for_the_base(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "apply", "durham", "-m", "first"]) == 0
    capsys.readouterr()
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace('dial: "+19055550110"', 'dial: "905-555-0110"').replace(
            "  - sunderland\n", "  - sunderland\n  - atlantis\n"
        ),
        encoding="utf-8",
    )
    assert run(["rules", "apply", str(bad), "-m", "edit"]) == 2
    err = capsys.readouterr().err
    assert "municipalities[0].destinations[0].dial: not an E.164 number" in err
    assert "exchanges[17]: unknown exchange 'atlantis'" in err
    assert "--base" not in err
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("ring_timeout_s: 20", "ring_timeout_s: 30"), encoding="utf-8")
    assert run(["rules", "apply", str(good), "-m", "edit"]) == 1
    assert "--base" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("lat", "lon", "said"),
    [
        ("95", "0", "latitude 95 is out of range (-90 to 90); the values look swapped"),
        ("43.9", "-200", "longitude -200 is out of range (-180 to 180)"),
        ("-79.14", "43.91", "did you mean latitude 43.91, longitude -79.14?"),
    ],
)
def test_simulate_refuses_coordinates_out_of_range(
    lat: str, lon: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["simulate", "--lat", lat, "--lon", lon]) == 2
    assert said in capsys.readouterr().err
