"""A complete, minimal Asterisk configuration for an ivr311 node, rendered from templates.

The templates in ``asterisk-conf/`` hold ``@{name}`` placeholders (``@@`` is a literal ``@``);
``render_asterisk_conf`` fills them from ``AsteriskConfSettings`` and writes the generated
dialplan of the active rules beside them as ``ivr311-dialplan.conf``. The ARI password is
never shipped: it comes from the environment or a secret file, and rendering refuses to run
without one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialplan.names import FALLBACK_CONTEXT, STATE_VARIABLE
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from dialplan.templating import Template, write_atomically
from recordings.manifest import LANGUAGES, MOH_DIR, SOUND_SUBDIR, SOUNDS_DIR
from routing_rules.snapshot import RuleSnapshot

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "asterisk-conf"
DIALPLAN_FILE = "ivr311-dialplan.conf"
PASSWORD_ENV = "IVR311_ARI_PASSWORD"
SECRET_FILES = frozenset({"ari.conf"})


class ConfError(Exception):
    """The configuration cannot be rendered (no ARI password, a missing template, ...)."""


class AsteriskConfSettings(BaseSettings):
    """Ports, addresses and paths of the rendered configuration (env prefix IVR311_ASTERISK_)."""

    model_config = SettingsConfigDict(env_prefix="IVR311_ASTERISK_", extra="ignore", frozen=True)

    etc_dir: Path | None = Field(default=None, description="astetcdir; default: the output dir")
    module_dir: Path = Path("/usr/lib/asterisk/modules")
    var_dir: Path = Path("/var/lib/asterisk")
    data_dir: Path = Path("/var/lib/asterisk")
    spool_dir: Path = Path("/var/spool/asterisk")
    run_dir: Path = Path("/var/run/asterisk")
    log_dir: Path = Path("/var/log/asterisk")
    sbin_dir: Path = Path("/usr/sbin")
    moh_dir: Path = Field(default=MOH_DIR, description="hold music directory")
    verbose: int = Field(default=0, ge=0, le=10)
    sip_bind: str = "0.0.0.0"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_end: int = Field(default=20000, ge=1024, le=65535)
    http_bind: str = Field(default="127.0.0.1", description="ARI and /metrics: keep on loopback")
    http_port: int = Field(default=8088, ge=1, le=65535)
    carrier_address: str = Field(
        default="192.0.2.10", description="where the carrier's calls come from"
    )
    carrier_port: int = Field(default=5060, ge=1, le=65535)
    contact_centre_address: str = Field(
        default="192.0.2.20", description="contact-centre PBX or SBC"
    )
    contact_centre_port: int = Field(default=5060, ge=1, le=65535)
    dial_endpoint: str = Field(default="contact-centres", description="trunk destinations use")
    ari_user: str = "ivr311"
    app: str = "ivr311"
    fallback_context: str = Field(
        default=FALLBACK_CONTEXT, description="context the controller hands calls back to"
    )
    state_variable: str = Field(
        default=STATE_VARIABLE,
        description="channel variable of each call's saved state, where a transfer handed over "
        "to the dialplan is read (the controller's IVR311_STATE_VARIABLE)",
    )
    holiday_years: int = Field(default=5, ge=1, le=20)
    system_name: str = Field(
        default="",
        description="this node's name, prefixed to its channel ids: give each node its own "
        "when several share a database (letters, digits and _)",
    )

    @field_validator("dial_endpoint", "ari_user", "app", "fallback_context")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("letters, digits, - and _ only")
        return value

    @field_validator("system_name")
    @classmethod
    def _system_name(cls, value: str) -> str:
        # "-" is left out: the controller's ids for legs and bridges are the caller's channel
        # id with a "-" suffix (`ivr.call.ids`)
        if not all(c.isascii() and (c.isalnum() or c == "_") for c in value):
            raise ValueError("letters, digits and _ only")
        return value


@dataclass(frozen=True, slots=True)
class RenderedConf:
    out_dir: Path
    files: tuple[Path, ...]


def ari_password(secret_file: Path | None = None) -> SecretStr:
    """The controller's ARI password: the secret file if given, else ``IVR311_ARI_PASSWORD``."""
    if secret_file is not None:
        try:
            value = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfError(f"cannot read the ARI password file {secret_file}: {exc}") from exc
    else:
        value = os.environ.get(PASSWORD_ENV, "").strip()
    if not value:
        raise ConfError(
            f"no ARI password: set {PASSWORD_ENV} or pass --ari-password-file "
            "(ivr311 never ships a default password)"
        )
    if any(c in value for c in "\n;[]"):
        raise ConfError("the ARI password may not contain newlines, ';', '[' or ']'")
    return SecretStr(value)


def _values(
    settings: AsteriskConfSettings, out_dir: Path, password: SecretStr, language: str
) -> dict[str, str]:
    values = {k: str(v) for k, v in settings.model_dump().items() if v is not None}
    values["etc_dir"] = str((settings.etc_dir or out_dir).resolve())
    values["ari_password"] = password.get_secret_value()
    values["language"] = language
    return values


def render_templates(values: dict[str, str], templates_dir: Path = TEMPLATES_DIR) -> dict[str, str]:
    """Every template filled in, by file name; a placeholder without a value is an error."""
    if not templates_dir.is_dir():
        raise ConfError(f"no configuration templates in {templates_dir}")
    rendered: dict[str, str] = {}
    for path in sorted(templates_dir.glob("*.conf")):
        try:
            rendered[path.name] = Template(path.read_text(encoding="utf-8")).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfError(f"{path.name}: unknown or malformed placeholder {exc}") from exc
    return rendered


def write_dialplan(snapshot: RuleSnapshot, path: Path, options: DialplanOptions) -> Path:
    """Render the dialplan of ``snapshot`` into ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, render_dialplan(snapshot, options))
    return path


def render_asterisk_conf(
    snapshot: RuleSnapshot,
    settings: AsteriskConfSettings,
    out_dir: Path,
    *,
    password: SecretStr,
    templates_dir: Path = TEMPLATES_DIR,
    options: DialplanOptions | None = None,
) -> RenderedConf:
    """Write the configuration files and the generated dialplan into ``out_dir``."""
    offered = {lang.code: lang for lang in snapshot.rules.languages.offered}
    language = offered[snapshot.rules.languages.default].prompt_language
    texts = render_templates(_values(settings, out_dir, password, language), templates_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in texts.items():
        write_atomically(out_dir / name, text, secret=name in SECRET_FILES)
        written.append(out_dir / name)
    dialplan_options = options or DialplanOptions(
        app=settings.app,
        dial_endpoint=settings.dial_endpoint,
        fallback_context=settings.fallback_context,
        state_variable=settings.state_variable,
        holiday_years=settings.holiday_years,
    )
    written.append(write_dialplan(snapshot, out_dir / DIALPLAN_FILE, dialplan_options))
    return RenderedConf(out_dir, tuple(written))


def link_prompts(data_dir: Path, sounds_dir: Path = SOUNDS_DIR) -> list[Path]:
    """Make ``<data_dir>/sounds/<lang>/ivr311`` point at the shipped prompts (symlinks)."""
    links: list[Path] = []
    for lang in LANGUAGES:
        link = data_dir / "sounds" / lang / SOUND_SUBDIR
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.resolve() == (sounds_dir / lang / SOUND_SUBDIR).resolve():
                links.append(link)
                continue
            raise ConfError(f"{link} exists and is not a link to the shipped prompts")
        link.symlink_to((sounds_dir / lang / SOUND_SUBDIR).resolve(), target_is_directory=True)
        links.append(link)
    return links
