"""Settings: defaults, TOML file, environment over file, and errors named by variable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.settings import SettingsError, load_settings
from ivr311.cli import build_parser
from routing_rules.snapshot import DEMO_DIR


def test_defaults_run_on_the_simulated_switch() -> None:
    settings = load_settings(environ={})
    assert settings.simulated
    assert settings.ari_app == "ivr311"
    assert settings.listen == ("127.0.0.1", 8311)
    assert settings.rules == "durham"
    assert settings.dial_endpoint == "contact-centres"
    assert settings.database_url.startswith("sqlite:///")


def test_toml_file_and_environment_override(tmp_path: Path) -> None:
    config = tmp_path / "ivr311.toml"
    config.write_text(
        'ari_url = "http://10.0.0.5:8088"\nari_user = "ivr"\nari_password = "file-secret"\n'
        'drain_timeout_s = 12\nhttp_listen = "0.0.0.0:9000"\n'
    )
    settings = load_settings(
        environ={"IVR311_CONFIG": str(config), "IVR311_HTTP_LISTEN": "127.0.0.1:9100"}
    )
    assert settings.ari_url == "http://10.0.0.5:8088"
    assert settings.drain_timeout_s == 12
    assert settings.listen == ("127.0.0.1", 9100)
    assert settings.ari_password is not None
    assert "file-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"IVR311_HTTP_LISTEN": "localhost"}, "IVR311_HTTP_LISTEN"),
        ({"IVR311_DRAIN_TIMEOUT_S": "soon"}, "IVR311_DRAIN_TIMEOUT_S"),
        ({"IVR311_ARI_URL": "http://pbx:8088"}, "IVR311_ARI_PASSWORD"),
        (
            {"IVR311_ARI_URL": "pbx:8088", "IVR311_ARI_USER": "u", "IVR311_ARI_PASSWORD": "p"},
            "IVR311_ARI_URL",
        ),
        (
            {
                "IVR311_ARI_URL": "http://u:p@pbx:8088",
                "IVR311_ARI_USER": "u",
                "IVR311_ARI_PASSWORD": "p",
            },
            "IVR311_ARI_URL",
        ),
        ({"IVR311_ADMIN_TOKEN_FILE": "/nonexistent/token"}, "IVR311_ADMIN_TOKEN_FILE"),
        ({"IVR311_CONFIG": "/nonexistent/ivr311.toml"}, "IVR311_CONFIG"),
    ],
)
def test_wrong_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert named in str(caught.value)


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('ari_ulr = "http://pbx:8088"\n')
    with pytest.raises(SettingsError, match="ari_ulr"):
        load_settings(config)


def test_run_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR311_HTTP_LISTEN", "no-port-here")
    args = build_parser().parse_args(["run"])
    assert args.handler(args) == 2
    assert "IVR311_HTTP_LISTEN" in capsys.readouterr().err


def test_readme_lists_every_setting_and_metric() -> None:
    from ivr.metrics import Metrics
    from ivr.settings import Settings, env_name

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    running = readme.split("## Running the controller", 1)[1].split("\n## ", 1)[0]
    for field in Settings.model_fields:
        assert f"`{env_name(field)}`" in running, env_name(field)
    metrics_section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    for family in Metrics().registry.collect():
        shown = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{shown}`" in metrics_section, shown


def test_default_store_is_in_the_state_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same absolute file from any directory: `$XDG_STATE_HOME/ivr311/rules.db`, else
    `~/.local/state/ivr311/rules.db` (a relative XDG_STATE_HOME is ignored, as the spec says)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    expected = f"sqlite:///{tmp_path / 'state' / 'ivr311' / 'rules.db'}"
    assert load_settings(environ={}).database_url == expected
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    in_home = f"sqlite:///{tmp_path / 'home' / '.local' / 'state' / 'ivr311' / 'rules.db'}"
    for unusable in ("", "relative/state"):
        monkeypatch.setenv("XDG_STATE_HOME", unusable)
        assert load_settings(environ={}).database_url == in_home
    assert load_settings(environ={"IVR311_DATABASE_URL": " "}).database_url == in_home


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"IVR311_RULES": "nosuch"},
            "IVR311_RULES: 'nosuch' is neither a demo rule set (durham, cape-breton) "
            "nor a rule-set file",
        ),
        (
            {"IVR311_DATABASE_URL": "foo://bar"},
            "IVR311_DATABASE_URL: unsupported database 'foo': use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB",
        ),
        (
            {"IVR311_DATABASE_URL": "not a url"},
            "IVR311_DATABASE_URL: not a database URL: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB",
        ),
        (
            {"IVR311_DATABASE_URL": "postgresql+nosuchdriver://db/ivr311"},
            "IVR311_DATABASE_URL: the database driver 'nosuchdriver' is not available: use "
            "postgresql+psycopg://USER@HOST/DB",
        ),
        (
            {"IVR311_GEODATA_DIR": "/nonexistent"},
            "IVR311_GEODATA_DIR: /nonexistent is not a directory",
        ),
    ],
)
def test_store_rules_and_geodata_are_checked_at_start(
    environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert str(caught.value).splitlines()[1:] == [f"  {expected}"]


def test_a_geodata_directory_without_the_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "exchanges.geojson").write_text("{}")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"IVR311_GEODATA_DIR": str(tmp_path)})
    assert str(caught.value).splitlines()[1:] == [
        f"  IVR311_GEODATA_DIR: {tmp_path} has no municipalities.geojson, cnac_co_codes.csv"
    ]


def test_every_problem_gets_its_own_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            environ={
                "IVR311_RULES": "nosuch",
                "IVR311_DATABASE_URL": "foo://bar",
                "IVR311_GEODATA_DIR": "/nonexistent",
            }
        )
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid settings:"
    assert [line.split(":", 1)[0].strip() for line in lines[1:]] == [
        "IVR311_DATABASE_URL",
        "IVR311_RULES",
        "IVR311_GEODATA_DIR",
    ]


def run_ivr311(
    env: dict[str, str], *argv: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ivr311 ARGV`` as a user runs it, with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "ivr311.cli", *argv],
        env={**os.environ, "IVR311_HTTP_LISTEN": "127.0.0.1:0", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IVR311_RULES", "nosuch"),
        ("IVR311_DATABASE_URL", "foo://bar"),
        ("IVR311_GEODATA_DIR", "/nonexistent"),
    ],
)
def test_run_with_a_bad_setting_says_which_and_exits_2(name: str, value: str) -> None:
    done = run_ivr311({name: value}, "run")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("ivr311: invalid settings:\n")
    assert f"\n  {name}: " in done.stderr


def test_run_with_unusable_geodata_names_the_directory(tmp_path: Path) -> None:
    for name in ("municipalities.geojson", "exchanges.geojson"):
        (tmp_path / name).write_text('{"type": "FeatureCollection", "features": []}')
    (tmp_path / "cnac_co_codes.csv").write_text("not,a,cnac,file\n")
    done = run_ivr311({"IVR311_GEODATA_DIR": str(tmp_path)}, "run")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    heading, *problems = done.stderr.splitlines()
    assert heading == "ivr311: cannot start:"
    assert problems
    assert all(p.startswith("  IVR311_GEODATA_DIR: the geodata cannot be used: ") for p in problems)


def test_run_with_an_invalid_seed_rule_set_lists_its_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    rules.write_text(text.replace("schedule: durham-hours", "schedule: nosuch-hours", 1))
    monkeypatch.setenv("IVR311_RULES", str(rules))
    monkeypatch.setenv("IVR311_HTTP_LISTEN", "127.0.0.1:0")
    args = build_parser().parse_args(["run"])
    assert args.handler(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        "ivr311: cannot start:",
        f"  IVR311_RULES: {rules} is invalid: host.schedule: no schedule named 'nosuch-hours'",
    ]


def test_run_with_an_unreachable_database_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL that is down at start stops the controller (there are no rules to route
    with); it starts once the database is back. The password is never shown."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        "IVR311_DATABASE_URL", f"postgresql+psycopg://ivr311:s3cret@127.0.0.1:{port}/ivr311"
    )
    monkeypatch.setenv("IVR311_HTTP_LISTEN", "127.0.0.1:0")
    args = build_parser().parse_args(["run"])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "ivr311: IVR311_DATABASE_URL: cannot open the rule store "
        f"postgresql+psycopg://ivr311:***@127.0.0.1:{port}/ivr311: "
    )
    assert "s3cret" not in err
