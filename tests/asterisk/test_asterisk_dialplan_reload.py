"""A real Asterisk reloads a regenerated dialplan while a call is in progress in the
controller-free fallback: the call stays up and ends normally, and the next call follows the
new dialplan. The reload comes from ``ivr311 rules apply --dialplan`` (``dialplan reload`` over
the control socket) or from the controller's `DialplanSync` (``pbx_config`` reloaded over ARI).

No controller is connected, so Stasis() fails and the fallback routes the calls. A Bowmanville
caller first reaches Clarington's centre (every schedule open); the new rule set closes the
host, so the next caller gets the after-hours message and line. The test watches Asterisk's own
events (an ARI application subscribed to everything) to know when the first call is connected.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ari_events_testing import asterisk_events
from asterisk_testing import (
    AFTER_HOURS_LINE,
    ARI_PASSWORD,
    BOWMANVILLE_CALLER,
    CLARINGTON_CENTRE,
    AsteriskNode,
    durham_rules_yaml,
)
from sipp_testing import call_311, sipp

from dialplan.asterisk_conf import DIALPLAN_FILE
from dialplan.options import DialplanOptions
from ivr.ari import AriClient
from ivr.controller.dialplan_sync import DialplanSync, DialplanSyncResult
from ivr.metrics import Metrics
from ivr311.cli import build_parser
from routing_rules.snapshot import default_geo, snapshot_from_text

pytestmark = pytest.mark.asterisk

CONNECTED_DEADLINE_S = 30.0
FIRST_CALL_STAY_MS = 15_000
"""Long enough to reload while the first call is connected (answered within a few seconds)."""


def answered_by_a_centre(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == "Dial"
        and event.get("dialstatus") == "ANSWER"
        and "contact-centres" in str(event.get("peer", {}).get("name", ""))
    )


def invited(messages: str) -> list[str]:
    return [line.split()[1] for line in messages.splitlines() if line.startswith("INVITE sip:")]


def log_offset(node: AsteriskNode) -> int:
    return len(node.log.read_text(encoding="utf-8", errors="replace"))


def apply_with_the_cli(node: AsteriskNode, rules: Path, database: str) -> int:
    argv = ["rules", "apply", str(rules), "-m", "closed for the test", "--database", database]
    argv += ["--dialplan", str(node.root / "etc" / DIALPLAN_FILE)]
    argv += ["--asterisk-conf", str(node.conf)]
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def sipp_binary() -> str:
    binary = sipp()
    if binary is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    return binary


@pytest.mark.parametrize("reload_by", ["rules-apply-cli", "controller-ari"])
async def test_a_reload_keeps_the_fallback_call_up_and_the_next_call_uses_the_new_dialplan(
    node: AsteriskNode,
    sipp_binary: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reload_by: str,
) -> None:
    for name in ("IVR311_DIALPLAN_FILE", "IVR311_ARI_APP", "IVR311_DIAL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    now = datetime.now(UTC)
    geo = default_geo()
    opened = durham_rules_yaml(open_now=True, now=now)
    closed = durham_rules_yaml(open_now=False, now=now)
    node.load_rules(snapshot_from_text(opened, geo, source="test:durham-open"))
    assert "Goto(open)" in node.cli("dialplan show durham-hours@ivr311-schedule")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()

    async with asterisk_events(node) as events:
        first = asyncio.create_task(
            asyncio.to_thread(
                call_311,
                node,
                tmp_path / "first",
                calling=BOWMANVILLE_CALLER,
                stay_ms=FIRST_CALL_STAY_MS,
            )
        )
        await events.wait_for(answered_by_a_centre, CONNECTED_DEADLINE_S)

        if reload_by == "rules-apply-cli":
            rules = tmp_path / "closed.yaml"
            rules.write_text(closed, encoding="utf-8")
            database = f"sqlite:///{tmp_path / 'rules.db'}"
            assert await asyncio.to_thread(apply_with_the_cli, node, rules, database) == 0
            assert "Asterisk reloaded it" in capsys.readouterr().out
        else:
            snapshot = snapshot_from_text(closed, geo, source="test:durham-closed")
            async with AriClient(
                f"http://127.0.0.1:{node.http_port}", "ivr311", ARI_PASSWORD, "ivr311"
            ) as ari:
                sync = DialplanSync(
                    node.root / "etc" / DIALPLAN_FILE,
                    DialplanOptions(),
                    reload_module=ari.reload_module,
                    metrics=Metrics(),
                )
                assert await sync.apply(snapshot) == DialplanSyncResult(None, "ok")

        # Asterisk runs the new dialplan while the first call is still connected.
        assert not first.done(), "the first call ended before the reload: nothing was tested"
        schedule = await asyncio.to_thread(node.cli, "dialplan show durham-hours@ivr311-schedule")
        assert "${EPOCH} >= " in schedule and "Goto(open)" not in schedule

        result = await first
    assert (result.caller_exit, result.centre_exit) == (0, 0)  # up until the caller hung up
    assert invited(result.centre_messages) == [
        f"sip:{CLARINGTON_CENTRE}@127.0.0.2:{node.contact_centre_port}"
    ]

    offset = log_offset(node)
    second = await asyncio.to_thread(
        call_311, node, tmp_path / "second", calling=BOWMANVILLE_CALLER, stay_ms=16_000
    )
    log = node.log.read_text(encoding="utf-8", errors="replace")[offset:]
    assert (second.caller_exit, second.centre_exit) == (0, 0), log
    assert "Playing 'ivr311/after-hours" in log
    assert invited(second.centre_messages) == [
        f"sip:{AFTER_HOURS_LINE}@127.0.0.2:{node.contact_centre_port}"
    ]
    assert node.errors() == []
