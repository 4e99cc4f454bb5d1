"""The status check on a real Asterisk: a SIPp caller keys a request number by RFC 2833 DTMF,
the controller asks a GeoReport v2 server over loopback and the caller then reaches an agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from asterisk_testing import ACCEPT_KEY, AsteriskNode, open_durham_rules
from controller_testing import ControllerProcess, metric, start_controller
from sipp_testing import sipp, start_contact_centre
from test_asterisk_controller import BOWMANVILLE_CALLER, place_call

from routing_rules.snapshot import default_geo, snapshot_from_text
from switchsim.georeport import GeoReportServer, serving_in_thread

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def server() -> Iterator[GeoReportServer]:
    """The GeoReport v2 server on its own event loop, in a thread of the test process."""
    with serving_in_thread() as running:
        yield running


@pytest.fixture(scope="module")
def controller(
    node: AsteriskNode, server: GeoReportServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    work = tmp_path_factory.mktemp("status")
    rules, _ = open_durham_rules(work)
    data = yaml.safe_load(rules.read_text(encoding="utf-8"))
    data["host"]["open311"]["base_url"] = f"{server.base_url}/"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    rules.write_text(text, encoding="utf-8")
    node.load_rules(snapshot_from_text(text, default_geo(), source="test:durham-status"))
    process = start_controller(node, work, rules)
    try:
        yield process
    finally:
        process.stop()


def test_a_caller_keys_a_request_number_hears_its_status_then_reaches_an_agent(
    node: AsteriskNode,
    controller: ControllerProcess,
    server: GeoReportServer,
    tmp_path: Path,
) -> None:
    found = metric(controller, "ivr311_status_checks_total", result="found")
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY))
    number = ("5", 250, "6", 250, "7", 250, "8", 250, "#")
    call = place_call(
        node,
        controller,
        tmp_path,
        centre,
        calling=BOWMANVILLE_CALLER,
        # * in the greeting; the number once asked for it; 0 once the status is read out
        caller_steps=(1000, "*", 4000, *number, 12000, "0"),
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    assert server.asked == ["5678"]
    record = call.record
    assert record["status_check"] == "found"
    assert record["destination"] == "durham-agents"
    assert record["outcome"] == "completed"
    assert call.states[:3] == ["greeting", "status", "transferring.hold"]
    assert metric(controller, "ivr311_status_checks_total", result="found") == found + 1
