"""Kamailio in front of several ivr311 nodes: ``kamailio.cfg`` and ``dispatcher.list``.

The template ``kamailio-conf/kamailio.cfg`` holds ``@{name}`` placeholders (``@@`` is a literal
``@``), filled from `KamailioConfSettings` (environment ``IVR311_KAMAILIO_*``, overridden by the
command's flags). Every address is an IP literal: the dispatcher, the readiness keys the
controllers set (``ADDRESS:PORT`` of their node, exactly as written in ``dispatcher.list``) and
the carrier check compare text, so a host name would never match.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dialplan.names import READY_NODES_TABLE
from dialplan.templating import Template, write_atomically

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "kamailio-conf"
CONFIG_FILE = "kamailio.cfg"
DISPATCHER_FILE = "dispatcher.list"
NODE_SET = 1
"""The dispatcher set of the nodes (the config's ``ds_select_dst("1", ...)``)."""

FLAGS = {
    "listen": "--listen",
    "nodes": "--node",
    "carriers": "--carrier",
    "rpc_listen": "--rpc-listen",
    "node_timeout_ms": "--node-timeout-ms",
    "ping_interval_s": "--ping-interval-s",
    "presence_ttl_s": "--presence-ttl-s",
}
"""The command-line flag of each setting, to name it in error messages."""


class KamailioConfError(Exception):
    """The configuration cannot be rendered; the message names the flag and the value."""


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (host names cannot be matched)") from None


def socket_address(value: str) -> str:
    """``ADDRESS:PORT`` (``[v6]:PORT`` for IPv6) in the one spelling Kamailio prints."""
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{value!r}: expected ADDRESS:PORT, e.g. 127.0.0.2:5060")
    if host.count(":") and not host.startswith("["):
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:5060")
    address = _address(host)
    shown = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return f"{shown}:{int(port_text)}"


def _split(value: object) -> object:
    """A list setting from the environment: comma-separated (``a:1,b:2``)."""
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return value


class KamailioConfSettings(BaseSettings):
    """Addresses and timers of the rendered configuration (env prefix IVR311_KAMAILIO_)."""

    model_config = SettingsConfigDict(env_prefix="IVR311_KAMAILIO_", extra="ignore", frozen=True)

    listen: str = Field(description="ADDRESS:PORT the carriers send SIP to (UDP and TCP)")
    nodes: Annotated[list[str], NoDecode] = Field(
        description="ADDRESS:PORT of each Asterisk node's SIP transport"
    )
    carriers: Annotated[list[str], NoDecode] = Field(
        description="address of each carrier allowed to send calls"
    )
    rpc_listen: str = Field(
        default="127.0.0.1:5071",
        description="ADDRESS:PORT of JSON-RPC (/RPC) and Prometheus metrics (/metrics) over HTTP",
    )
    node_timeout_ms: int = Field(
        default=1500, ge=200, le=30000, description="how long a node has to answer an INVITE"
    )
    ping_interval_s: int = Field(
        default=1, ge=1, le=60, description="seconds between OPTIONS probes of each node"
    )
    presence_ttl_s: int = Field(
        default=3, ge=2, le=60, description="seconds a controller's readiness keepalive lasts"
    )

    @field_validator("nodes", "carriers", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("listen", "rpc_listen")
    @classmethod
    def _socket(cls, value: str) -> str:
        return socket_address(value)

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one node is needed")
        nodes = [socket_address(node) for node in value]
        for i, node in enumerate(nodes):
            if node in nodes[:i]:
                raise ValueError(f"{value[i]!r}: this node is given twice")
        return nodes

    @field_validator("carriers")
    @classmethod
    def _carriers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one carrier address is needed (only carriers may call)")
        carriers = [_address(carrier).compressed for carrier in value]
        for i, carrier in enumerate(carriers):
            if carrier in carriers[:i]:
                raise ValueError(f"{value[i]!r}: this carrier is given twice")
        return carriers

    @model_validator(mode="after")
    def _distinct_sockets(self) -> KamailioConfSettings:
        if self.listen in self.nodes:
            raise ValueError(f"--node {self.listen}: a node cannot be the proxy's own address")
        if self.rpc_listen == self.listen:
            raise ValueError(f"--rpc-listen {self.rpc_listen}: must differ from --listen")
        return self


@dataclass(frozen=True, slots=True)
class RenderedKamailioConf:
    out_dir: Path
    files: tuple[Path, ...]

    @property
    def config(self) -> Path:
        return self.out_dir / CONFIG_FILE


def _host(socket: str) -> str:
    return socket.rpartition(":")[0].strip("[]")


def _any_source(addresses: list[str]) -> str:
    """A Kamailio condition true when the request came from one of ``addresses``."""
    return " || ".join(f'$si == "{address}"' for address in addresses)


def dispatcher_list(settings: KamailioConfSettings) -> str:
    lines = [
        "# The ivr311 nodes: set, SIP URI, flags (8: probed with OPTIONS), priority.",
        "# Rendered by `ivr311 kamailio-conf render`; the readiness key of each node is its",
        "# ADDRESS:PORT as written here (IVR311_PROXY_NODE of its controller).",
    ]
    lines += [f"{NODE_SET} sip:{node} 8 0" for node in settings.nodes]
    return "\n".join(lines) + "\n"


def _values(settings: KamailioConfSettings, out_dir: Path) -> dict[str, str]:
    node_hosts = [_host(node) for node in settings.nodes]
    rpc_clients = list(dict.fromkeys(["127.0.0.1", "::1", *node_hosts]))
    return {
        "listen": settings.listen,
        "rpc_listen": settings.rpc_listen,
        "rpc_address": _host(settings.rpc_listen),
        "rpc_port": settings.rpc_listen.rpartition(":")[2],
        "dispatcher_list": str((out_dir / DISPATCHER_FILE).resolve()),
        "node_timeout_ms": str(settings.node_timeout_ms),
        "ping_interval_s": str(settings.ping_interval_s),
        "presence_ttl_s": str(settings.presence_ttl_s),
        "ready_table": READY_NODES_TABLE,
        "carrier_condition": _any_source(settings.carriers),
        "rpc_client_condition": _any_source(rpc_clients),
    }


def render_kamailio_conf(
    settings: KamailioConfSettings, out_dir: Path, templates_dir: Path = TEMPLATES_DIR
) -> RenderedKamailioConf:
    """Write ``kamailio.cfg`` and ``dispatcher.list`` into ``out_dir`` (created if missing)."""
    template = templates_dir / CONFIG_FILE
    try:
        text = Template(template.read_text(encoding="utf-8")).substitute(_values(settings, out_dir))
    except OSError as exc:
        raise KamailioConfError(f"cannot read the template {template}: {exc.strerror}") from exc
    except (KeyError, ValueError) as exc:
        raise KamailioConfError(f"{template}: unknown or malformed placeholder {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / DISPATCHER_FILE, dispatcher_list(settings))
    write_atomically(out_dir / CONFIG_FILE, text)
    return RenderedKamailioConf(out_dir, (out_dir / CONFIG_FILE, out_dir / DISPATCHER_FILE))
