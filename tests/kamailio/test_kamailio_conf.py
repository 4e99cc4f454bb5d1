"""`ivr311 kamailio-conf render`: a configuration Kamailio accepts, and bad input refused in
one line naming the flag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kamailio_testing import required_binary

from dialplan.kamailio_conf import CONFIG_FILE, DISPATCHER_FILE
from ivr311.cli import main as ivr311


def render(out: Path, *args: str) -> int:
    return ivr311(["kamailio-conf", "render", "--out", str(out), *args])


@pytest.mark.parametrize(
    ("listen", "nodes", "carriers"),
    [
        ("127.0.0.1:5060", ["127.0.0.2:5060"], ["127.0.0.9"]),
        ("10.0.0.5:5060", ["10.0.1.1:5060", "10.0.1.2:5060"], ["203.0.113.5", "203.0.113.6"]),
        ("192.0.2.1:5080", [f"192.0.2.{n}:5060" for n in range(10, 16)], ["198.51.100.7"]),
        ("[::1]:5060", ["[::1]:5062", "[::1]:5064"], ["::1"]),
    ],
    ids=["one-node", "two-nodes", "six-nodes", "ipv6"],
)
def test_kamailio_accepts_the_rendered_config(
    tmp_path: Path, listen: str, nodes: list[str], carriers: list[str]
) -> None:
    kamailio = required_binary("kamailio", "kamailio")
    args = ["--listen", listen, "--rpc-listen", "127.0.0.1:5071"]
    args += [arg for node in nodes for arg in ("--node", node)]
    args += [arg for carrier in carriers for arg in ("--carrier", carrier)]
    assert render(tmp_path, *args) == 0
    listed = (tmp_path / DISPATCHER_FILE).read_text(encoding="utf-8")
    assert [line.split()[1] for line in listed.splitlines() if line[:1].isdigit()] == [
        f"sip:{node}" for node in nodes
    ]
    check = subprocess.run(
        [kamailio, "-c", "-f", str(tmp_path / CONFIG_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "config file ok" in check.stdout + check.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--node", "127.0.0.2"], "--node: '127.0.0.2'"),
        (["--node", "127.0.0.2:70000"], "--node: '127.0.0.2:70000'"),
        (["--node", "node1.example:5060"], "--node: 'node1.example'"),
        ([], "--node: required"),
        (["--node", "127.0.0.2:5060", "--node", "127.0.0.2:5060"], "given twice"),
        (
            ["--node", "[::1]:5062", "--node", "[0::1]:5062"],
            "--node: '[0::1]:5062': this node is given twice",
        ),
        (["--node", "127.0.0.2:5060", "--carrier", "carrier.example"], "--carrier"),
        (["--node", "127.0.0.2:5060", "--rpc-listen", "localhost"], "--rpc-listen: 'localhost'"),
    ],
    ids=[
        "no-port",
        "bad-port",
        "host-name",
        "no-node",
        "duplicate",
        "same-node",
        "bad-carrier",
        "bad-rpc",
    ],
)
def test_bad_input_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    out = tmp_path / "conf"
    code = render(out, "--listen", "127.0.0.1:5060", "--carrier", "127.0.0.9", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and named in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_settings_come_from_the_environment_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR311_KAMAILIO_LISTEN", "127.0.0.1:5060")
    monkeypatch.setenv("IVR311_KAMAILIO_NODES", "127.0.0.2:5060, 127.0.0.3:5060")
    monkeypatch.setenv("IVR311_KAMAILIO_CARRIERS", "127.0.0.9")
    assert render(tmp_path / "env") == 0
    listed = (tmp_path / "env" / DISPATCHER_FILE).read_text(encoding="utf-8")
    assert "sip:127.0.0.2:5060" in listed and "sip:127.0.0.3:5060" in listed

    assert render(tmp_path / "flags", "--node", "127.0.0.4:5060", "--listen", "127.0.0.1:5070") == 0
    config = (tmp_path / "flags" / CONFIG_FILE).read_text(encoding="utf-8")
    listed = (tmp_path / "flags" / DISPATCHER_FILE).read_text(encoding="utf-8")
    assert "sip:127.0.0.4:5060" in listed and "127.0.0.2" not in listed
    assert "listen=udp:127.0.0.1:5070" in config
    assert '$si == "127.0.0.9"' in config


def test_a_node_behind_kamailio_is_rendered_from_existing_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per node: its own SIP address and port, and Kamailio's address as the carrier's, so
    the calls (and OPTIONS probes) Kamailio relays are taken as the carrier's."""
    monkeypatch.setenv("IVR311_ARI_PASSWORD", "node-secret")
    out = tmp_path / "node2"
    args = ["--rules", "durham", "--out", str(out), "--sip-bind", "127.0.0.3"]
    args += ["--sip-port", "5062", "--http-port", "8089"]
    args += ["--carrier-address", "127.0.0.1", "--carrier-port", "5060"]
    assert ivr311(["asterisk-conf", "render", *args]) == 0
    pjsip = (out / "pjsip.conf").read_text(encoding="utf-8")
    assert "bind = 127.0.0.3:5062" in pjsip
    carrier = pjsip[pjsip.index("[carrier]\ntype = identify") :]
    assert "match = 127.0.0.1\n" in carrier
    assert "contact = sip:127.0.0.1:5060" in pjsip
