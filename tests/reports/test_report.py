"""``ivr311 report`` over stored call records: every figure equals a count of the same calls
made one by one, in every period and format, on SQLite and PostgreSQL; bad input is one line
naming the option."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import jsonschema_rs
import pytest
from report_testing import expected_document

from ivr.reports.render_json import schema
from ivr311.cli import main
from routing_rules.storage.call_records import StoredCall
from routing_rules.storage.store import RuleStore

AUTUMN = ("--from", "2026-10-01", "--to", "2026-12-14")
"""The range most tests report on."""


def report(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    """``ivr311 report`` on the store at ``url``: exit code, stdout, stderr."""
    code = main(["report", "--database", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def report_json(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> dict[str, object]:
    code, out, err = report(capsys, url, "--format", "json", *argv)
    assert code == 0, err
    document: dict[str, object] = json.loads(out)
    return document


@pytest.mark.parametrize(
    ("first", "last", "by"),
    [
        (date(2026, 10, 1), date(2026, 12, 14), "day"),
        (date(2026, 10, 20), date(2026, 11, 9), "week"),
        (date(2026, 9, 1), date(2027, 1, 31), "month"),
    ],
)
def test_every_figure_equals_a_count_of_the_same_calls(
    capsys: pytest.CaptureFixture[str],
    filled_store: RuleStore,
    calls: list[StoredCall],
    first: date,
    last: date,
    by: str,
) -> None:
    document = report_json(
        capsys, filled_store.url, "--from", str(first), "--to", str(last), "--by", by
    )
    expected = expected_document(calls, first, last, by, (20.0, 30.0))
    assert list(document)[:2] == ["schema", "overlap"], "the overlap table comes first"
    assert {k: v for k, v in document.items() if k != "schema"} == expected
    assert document["calls_offered"]["total"] > 0  # type: ignore[index]


def test_json_validates_against_the_published_schema(
    capsys: pytest.CaptureFixture[str], filled_store: RuleStore
) -> None:
    validator = jsonschema_rs.validator_for(schema())
    full = report_json(capsys, filled_store.url, "--from", "2026-10-01", "--to", "2026-12-31")
    empty = report_json(capsys, filled_store.url, "--from", "2020-01-01", "--to", "2020-01-31")
    for document in (full, empty):
        validator.validate(document)
    assert empty["calls_offered"]["total"] == 0  # type: ignore[index]
    assert empty["answer_to_person"]["p50_s"] is None  # type: ignore[index]


def test_service_level_thresholds_can_be_changed(
    capsys: pytest.CaptureFixture[str], filled_store: RuleStore, calls: list[StoredCall]
) -> None:
    document = report_json(
        capsys,
        filled_store.url,
        *AUTUMN,
        "--service-level",
        "10,45.5",
    )
    expected = expected_document(calls, date(2026, 10, 1), date(2026, 12, 14), "day", (10, 45.5))
    assert document["service_level"] == expected["service_level"]


@pytest.mark.parametrize("fmt", ["text", "csv", "html"])
def test_every_format_puts_the_overlap_table_first(
    capsys: pytest.CaptureFixture[str], filled_store: RuleStore, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"report.{fmt}"
    code, stdout, err = report(
        capsys,
        filled_store.url,
        *AUTUMN,
        "--format",
        fmt,
        "--out",
        str(out),
    )
    assert (code, stdout, err) == (0, "", "")
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][0] == "overlap"
        assert {row[0] for row in rows} >= {"summary", "transfers", "service", "hour"}
        oshawa = [r for r in rows if r[0] == "overlap" and r[1] == "oshawa"]
        assert {r[2] for r in oshawa} >= {"clarington", "whitby", "(no choice)"}
    else:
        first_heading = "Shared exchanges: where callers chose to go"
        assert text.index(first_heading) < text.index("Calls offered")
        assert text.index(first_heading) < text.index("Transfers per destination")


def test_text_shows_the_totals(
    capsys: pytest.CaptureFixture[str], filled_store: RuleStore, calls: list[StoredCall]
) -> None:
    code, out, _ = report(
        capsys,
        filled_store.url,
        *AUTUMN,
    )
    assert code == 0
    total = sum(1 for c in calls if date(2026, 10, 1) <= c.local_date <= date(2026, 12, 14))
    line = next(line for line in out.splitlines() if line.startswith("calls offered"))
    assert line.split()[2] == str(total)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "--from"),
        (["--to", "2026-12-31"], "--from"),
        (["--from", "2026-12-01", "--to", "yesterday"], "--to"),
        (["--from", "2026-12-01", "--to", "2026-11-30"], "--to"),
        (["--from", "2000-01-01", "--to", "2026-11-30"], "--to"),
        (["--from", "2026-12-01", "--to", "2026-12-31", "--by", "fortnight"], "--by"),
        (["--from", "2026-12-01", "--to", "2026-12-31", "--service-level", "0"], "--service-level"),
        (["--from", "2026-12-01", "--to", "2026-12-31", "--service-level", "x"], "--service-level"),
    ],
)
def test_a_bad_range_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, tmp_path: Path
) -> None:
    code, out, err = report(capsys, f"sqlite:///{tmp_path / 'r.db'}", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {flag}: ")


def test_a_store_that_does_not_exist_is_refused_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = report(
        capsys,
        f"sqlite:///{tmp_path / 'missing.db'}",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-31",
    )
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "missing.db").exists()
