"""Settings: defaults, TOML file, environment over file, and errors named by variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import build_parser
from ivr.settings import SettingsError, load_settings


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
