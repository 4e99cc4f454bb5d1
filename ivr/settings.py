"""The controller's settings: environment variables ``IVR311_*`` over an optional TOML file.

The TOML file (named by ``IVR311_CONFIG`` or ``ivr311 run --config``) uses the same names in
lower case without the prefix (``ari_url = "http://127.0.0.1:8088"``); an environment variable
wins over the file. `load_settings` reports every missing or wrong setting by its variable name
in one `SettingsError`, so the process can say what to fix and exit with status 2. The
geodata directory (``IVR311_GEODATA_DIR``, read from the environment by every command) is
checked with them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialplan.names import FALLBACK_CONTEXT, STATE_VARIABLE
from geo.sources import CO_CODES_FILE, EXCHANGES_FILE, GEODATA_DIR_ENV, MUNICIPALITIES_FILE
from routing_rules.storage.location import default_database_url

ENV_PREFIX = "IVR311_"
CONFIG_ENV = "IVR311_CONFIG"


class SettingsError(Exception):
    """One or more settings are missing or wrong; the message names each by its variable."""

    exit_code = 2


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8311"`` or ``"[::1]:8311"`` -> (host, port); ValueError when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8311")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError("port must be between 0 and 65535")
    return host.strip("[]"), port


class Settings(BaseSettings):
    """Every setting of ``ivr311 run``; see the README's settings table for their meaning."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    ari_url: str | None = Field(
        default=None,
        description="Asterisk's HTTP server (http://127.0.0.1:8088); unset: the simulated switch",
    )
    ari_user: str | None = Field(default=None, description="ARI user (ari.conf)")
    ari_password: SecretStr | None = Field(default=None, description="ARI password")
    ari_app: str = Field(default="ivr311", description="Stasis application name")
    ari_timeout_s: float = Field(default=5.0, gt=0, description="timeout of each ARI request")
    ari_requests: Literal["socket", "http"] = Field(
        default="socket",
        description="how ARI requests travel: on the event WebSocket where Asterisk takes them "
        "(22.4 and later; those that may wait inside Asterisk, and all on an older one, over "
        "HTTP) or always over HTTP",
    )
    database_url: str = Field(
        default_factory=default_database_url,
        description="rule store (SQLite file or PostgreSQL URL); default: a SQLite file in the "
        "user's state directory",
    )
    rules: str = Field(
        default="durham",
        description="demo rule set (durham, cape-breton) or YAML file seeding an empty store",
    )
    rules_poll_s: float = Field(
        default=2.0, gt=0, description="how often SQLite is polled for a new active version"
    )
    dialplan_file: Path | None = Field(
        default=None,
        description="generated dialplan (ivr311-dialplan.conf) rewritten, and reloaded in "
        "Asterisk, whenever a rule version becomes active; unset: not written",
    )
    http_listen: str = Field(
        default="127.0.0.1:8311", description="HOST:PORT of /metrics, /healthz, /readyz"
    )
    dial_endpoint: str = Field(
        default="contact-centres",
        description="PJSIP endpoint (trunk) destinations are dialled through",
    )
    fallback_context: str = Field(
        default=FALLBACK_CONTEXT,
        description="dialplan context calls are handed back to (extension = dialled number)",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="token for admin API requests that change state"
    )
    admin_token_file: Path | None = Field(
        default=None, description="file holding the admin token (instead of IVR311_ADMIN_TOKEN)"
    )
    log_hash_key: SecretStr | None = Field(
        default=None,
        description="key of the calling-number hash in logs; unset: random per process",
    )
    drain_timeout_s: float = Field(
        default=30.0, ge=0, description="on SIGTERM, how long calls in progress may finish"
    )
    reconnect_initial_s: float = Field(
        default=0.5, gt=0, description="first reconnect backoff ceiling"
    )
    reconnect_max_s: float = Field(default=30.0, gt=0, description="reconnect backoff cap")
    accept_timeout_s: float = Field(
        default=15.0, gt=0, description="how long an answered destination has to press accept"
    )
    ring_grace_s: float = Field(
        default=5.0,
        ge=0,
        description="extra wait past a link's ring timeout before the controller gives up on it",
    )
    hold_music_class: str = Field(default="default", description="music-on-hold class")
    transfers: Literal["dialplan", "application"] = Field(
        default="dialplan",
        description="who carries out a warm transfer once decided: the generated dialplan "
        "(the controller hands the caller over and reads how it went at the end) or the "
        "controller itself over ARI",
    )
    state_variable: str = Field(
        default=STATE_VARIABLE,
        min_length=1,
        description="channel variable each call's state is saved in for a restarted controller",
    )
    recent_decisions: int = Field(
        default=200, ge=1, description="decision records kept in memory for the admin API"
    )
    proxy_rpc_url: str | None = Field(
        default=None,
        description="Kamailio's JSON-RPC URL (http://10.0.0.5:5071/RPC) the node's readiness is "
        "kept at; unset: no proxy in front of this node",
    )
    proxy_node: str | None = Field(
        default=None,
        description="this node's SIP ADDRESS:PORT as in Kamailio's dispatcher list "
        "(the --node given to kamailio-conf render)",
    )
    call_records_queue: int = Field(
        default=10_000,
        ge=1,
        description="call records held in memory while the store is slow or down; beyond "
        "that they are dropped and counted",
    )
    call_records_retention_days: int = Field(
        default=400,
        ge=1,
        description="call records older than this many days are purged (400: last year's "
        "same season stays comparable)",
    )
    sim_call_interval_s: float = Field(
        default=5.0, gt=0, description="simulated switch only: seconds between scripted callers"
    )
    fastagi_listen: str | None = Field(
        default=None,
        description="HOST:PORT of the FastAGI server; `ivr311 run` starts it too when set "
        "(`ivr311 fastagi` listens on 127.0.0.1:4573 when unset)",
    )
    fastagi_max_sessions: int = Field(
        default=1000, ge=1, description="FastAGI sessions at once; more are closed at once"
    )
    fastagi_read_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="how long a FastAGI client may take to send its environment, then each reply",
    )

    @field_validator("http_listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("fastagi_listen")
    @classmethod
    def _fastagi_listen_is_host_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_listen(value)
        return value

    @field_validator("ari_url")
    @classmethod
    def _ari_url_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in value.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("put credentials in IVR311_ARI_USER/IVR311_ARI_PASSWORD, not the URL")
        return value

    @field_validator("proxy_rpc_url")
    @classmethod
    def _proxy_url_is_http(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:5071/RPC")
        return value

    @field_validator("proxy_node")
    @classmethod
    def _proxy_node_is_socket(cls, value: str | None) -> str | None:
        from dialplan.kamailio_conf import socket_address

        if value is None or not value.strip():
            return None
        return socket_address(value)

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_database_url_is_default(cls, value: object) -> object:
        return default_database_url() if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url_usable(cls, value: str) -> str:
        from routing_rules.storage.database import database_url_problem

        problem = database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("rules")
    @classmethod
    def _rules_exist(cls, value: str) -> str:
        from routing_rules.snapshot import DEMO_NAMES

        if value not in DEMO_NAMES and not Path(value).is_file():
            demos = ", ".join(DEMO_NAMES)
            raise ValueError(f"{value!r} is neither a demo rule set ({demos}) nor a rule-set file")
        return value

    @field_validator("ari_app", "dial_endpoint", "fallback_context")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("dialplan_file", mode="before")
    @classmethod
    def _blank_dialplan_file_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("dialplan_file")
    @classmethod
    def _dialplan_file_is_a_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError(f"{value} is a directory: name the file, e.g. ivr311-dialplan.conf")
        return value

    @field_validator("admin_token_file")
    @classmethod
    def _token_file_readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _ari_credentials(self) -> Settings:
        if self.ari_url is not None:
            missing = [
                name
                for name, val in (("ari_user", self.ari_user), ("ari_password", self.ari_password))
                if not val
            ]
            if missing:
                raise ValueError(
                    " and ".join(env_name(m) for m in missing)
                    + " must be set when IVR311_ARI_URL is set"
                )
        if (self.proxy_rpc_url is None) != (self.proxy_node is None):
            raise ValueError(
                "IVR311_PROXY_RPC_URL and IVR311_PROXY_NODE are set together or not at all"
            )
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise ValueError("IVR311_RECONNECT_INITIAL_S must not exceed IVR311_RECONNECT_MAX_S")
        return self

    @property
    def listen(self) -> tuple[str, int]:
        return parse_listen(self.http_listen)

    @property
    def simulated(self) -> bool:
        """No Asterisk configured: run against the built-in simulated switch."""
        return self.ari_url is None

    def admin_token_value(self) -> str | None:
        """The admin token from IVR311_ADMIN_TOKEN or the file IVR311_ADMIN_TOKEN_FILE names."""
        if self.admin_token is not None:
            return self.admin_token.get_secret_value()
        if self.admin_token_file is not None:
            return self.admin_token_file.read_text(encoding="utf-8").strip() or None
        return None

    def hash_key(self) -> bytes:
        """The calling-number hash key; random per process when not configured."""
        if self.log_hash_key is not None:
            return self.log_hash_key.get_secret_value().encode()
        return _PROCESS_HASH_KEY


_PROCESS_HASH_KEY = os.urandom(32)


def env_name(field: str) -> str:
    """``ari_url`` -> ``IVR311_ARI_URL``."""
    return ENV_PREFIX + field.upper()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"{CONFIG_ENV}: {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{CONFIG_ENV}: {path} is not valid TOML: {exc}") from exc
    known = set(Settings.model_fields)
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return data


def load_settings(
    config: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Settings from ``overrides`` > environment > TOML file (``config`` or ``$IVR311_CONFIG``).

    Raises `SettingsError` naming every wrong or missing setting by its environment variable.
    """
    env = dict(os.environ if environ is None else environ)
    path = config or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    values: dict[str, Any] = _read_toml(path) if path is not None else {}
    for field in Settings.model_fields:
        name = env_name(field)
        if name in env:
            values[field] = env[name]
    values.update(overrides)
    problems = geodata_problems(env.get(GEODATA_DIR_ENV, ""))
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(describe_problems([*_problems(exc), *problems])) from exc
    if problems:
        raise SettingsError(describe_problems(problems))
    return settings


def geodata_problems(configured: str) -> list[str]:
    """What is wrong with the geodata directory ``IVR311_GEODATA_DIR`` names (blank: the demo)."""
    if not configured.strip():
        return []
    path = Path(configured.strip())
    if not path.is_dir():
        return [f"{GEODATA_DIR_ENV}: {path} is not a directory"]
    missing = [
        name
        for name in (MUNICIPALITIES_FILE, EXCHANGES_FILE, CO_CODES_FILE)
        if not (path / name).is_file()
    ]
    if missing:
        return [f"{GEODATA_DIR_ENV}: {path} has no {', '.join(missing)}"]
    return []


def describe_problems(lines: list[str], heading: str = "invalid settings") -> str:
    """One line per problem, each starting with the variable to fix."""
    return f"{heading}:\n  " + "\n  ".join(lines)


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = error.get("loc", ())
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if loc:
            lines.append(f"{env_name(str(loc[0]))}: {message}")
        else:
            lines.append(message)
    return lines
