"""Broken rule files, made by mutating the demos, through the commands an admin runs.

Whatever the file holds, ``rules validate`` answers 0 or 2 with lines naming the file, ``rules
apply`` changes nothing unless the file is valid, ``dialplan render`` prints the report instead
of a traceback, and no answer is an internal error (exit 70). The budget is a fixed number of
examples per test, never a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fuzzing import allocation_peak, fuzz_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr311.cli import main
from routing_rules.limits import MAX_RULES_BYTES
from routing_rules.snapshot import DEMO_DIR
from routing_rules.storage.store import RuleStore

DEMOS = {
    name: (DEMO_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    for name in ("durham", "cape-breton")
}
DOCUMENTED_EXITS = {0, 1, 2}
FUZZ = settings(
    max_examples=120,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values that look like something YAML or the schema reads specially, and values that are
# simply hostile: not-quite dates, numbers past any limit, deep nesting, aliases, tags.
NASTY_SCALARS = st.sampled_from(
    [
        "2026-02-30",
        "2026-13-01",
        "0000-00-00",
        "2026-12-24T25:61:00",
        "9" * 5000,
        "-" + "9" * 400,
        "1e999",
        ".nan",
        "-.inf",
        "0x7fffffffffffffffffff",
        "0o777",
        "16:30",
        "ON",
        "~",
        "null",
        "yes",
        "''",
        '"\\ud800"',
        "!!python/object:os.system ls",
        "!!binary AAAA",
        "!!timestamp 2026-02-30",
        "*undefined_alias",
        "&a [*a]",
        "[" * 200 + "]" * 200,
        "{a: " * 60 + "1" + "}" * 60,
        "x" * 10_000,
        "Bad Id!",
        "+1905555010",
        "sip:@",
        "PJSIP/evil@trunk,,r",
        "é\u202e\u0000",
    ]
)
SCALARS = st.one_of(
    NASTY_SCALARS,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=40).map(lambda t: yaml.safe_dump(t, width=10**6).strip().removesuffix("...")),
)


@st.composite
def broken_rule_files(draw: st.DrawFn) -> str:
    """A demo rule set with a few lines mutated: a value replaced, a line dropped, repeated or
    re-indented, or the text cut short."""
    lines = draw(st.sampled_from(sorted(DEMOS.values()))).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "drop", "repeat", "indent", "cut"]))
        line = lines[at]
        if action == "value" and ":" in line:
            key = line[: line.index(":") + 1]
            lines[at] = f"{key} {draw(SCALARS)}"
        elif action == "drop":
            del lines[at]
        elif action == "repeat":
            lines.insert(at, line)
        elif action == "indent":
            lines[at] = " " * draw(st.integers(min_value=0, max_value=9)) + line.lstrip()
        elif action == "cut":
            lines = [*lines[:at], line[: draw(st.integers(min_value=0, max_value=len(line)))]]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def _no_traceback(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return out, err


@FUZZ
@given(text=broken_rule_files())
def test_validate_answers_every_broken_file_with_its_report(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzz_case("rules-file")
    path = _write(tmp_path, text)
    code = main(["rules", "validate", str(path)])
    out, err = _no_traceback(capsys)
    assert code in DOCUMENTED_EXITS, (code, err)
    if code == 2:
        assert all(line.startswith(f"{path}: ") for line in out.splitlines()), out
        assert "error" in out


@settings(FUZZ, max_examples=40)
@given(text=broken_rule_files())
def test_apply_of_a_broken_file_leaves_the_active_version(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzz_case("rules-apply")
    database = f"sqlite:///{tmp_path / 'rules.db'}"
    if not (tmp_path / "rules.db").exists():
        assert main(["rules", "apply", "durham", "--database", database, "-m", "first"]) == 0
    with RuleStore.open(database) as store:
        before = store.active_version()
    path = _write(tmp_path, text)
    code = main(["rules", "apply", str(path), "--database", database, "--force", "-m", "fuzz"])
    _no_traceback(capsys)
    assert code in DOCUMENTED_EXITS
    with RuleStore.open(database) as store:
        after = store.active_version()
    if code != 0:
        assert after == before, (code, before, after)


@settings(FUZZ, max_examples=40)
@given(text=broken_rule_files())
def test_dialplan_render_of_a_broken_file_prints_the_report(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzz_case("dialplan-render")
    path = _write(tmp_path, text)
    code = main(["dialplan", "render", "--rules", str(path), "--out", str(tmp_path / "d.conf")])
    _, err = _no_traceback(capsys)
    assert code in DOCUMENTED_EXITS
    if code == 2:
        assert f"{path}: " in err


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            "a0: &a0 ["
            + ",".join(["x"] * 10)
            + "]\n"
            + "".join(
                f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)
            ),
            id="alias-bomb",
        ),
        pytest.param("a: " + "[" * 100_000 + "]" * 100_000 + "\n", id="deep-nesting"),
        pytest.param("a: " + "x" * (MAX_RULES_BYTES + 10) + "\n", id="over-the-size-limit"),
    ],
)
def test_hostile_files_are_refused_in_bounded_memory(
    traced_memory: None, content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, content)
    with allocation_peak() as peak:
        code = main(["rules", "validate", str(path)])
    out, err = _no_traceback(capsys)
    assert code in (1, 2), out + err
    assert str(path) in out + err
    assert peak[0] < 64 * 1024 * 1024, f"{peak[0]} bytes"


def test_a_device_is_not_read_to_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--rules", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "/dev/zero" in err and "larger than" in err
