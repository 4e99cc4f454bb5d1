"""The controller (``ivr311 run``) on a real Asterisk: calls from the demo exchanges placed with
SIPp, keys sent as RFC 4733 events, contact centres played by SIPp on the trunk's address.

The rules are the Durham demo with every schedule always open and every arrangement
open-ended, so the outcome does not depend on the clock. Each call waits on conditions (the
controller's live call state, SIPp's exit, the decision record) with deadlines; the test hangs
the caller up through ARI once the call reaches the state under test (usually bridged), as a
caller putting the phone down. SIPp's key presses and the centre's accept key are timed from
the answer with margins of seconds on either side (the greeting lasts about 8 s, a menu waits
6 s after its prompts, an answered centre has the whisper plus the accept timeout).
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from asterisk_testing import (
    ACCEPT_KEY,
    AJAX_PICKERING_CALLER,
    BOWMANVILLE_CALLER,
    DURHAM_AGENTS,
    PICKERING_CCC,
    PICKERING_KEY,
    AsteriskNode,
)
from controller_testing import (
    ControllerProcess,
    durham_controller,
    hang_up_and_collect,
    live_call,
    metric,
    record_of,
)
from local_processes import wait_until
from sipp_testing import (
    CONTACT_CENTRE_IP,
    SCENARIOS,
    RtpReceiver,
    SippParty,
    Step,
    is_speech,
    sipp,
    start_carrier_call,
    start_contact_centre,
    start_sipp,
)

from ivr.ari.socket_requests import ANSWER_TYPE
from ivr.call import CallState, SavedCall
from ivr.controller.process import EVENTS_ACTED_ON

pytestmark = pytest.mark.asterisk

TRANSFERS = "ivr311_transfers_total"

CALL_DEADLINE_S = 60.0
"""Greeting (about 8 s), announcement, ringing, whisper: a call is bridged well within this."""


@pytest.fixture(scope="module")
def controller(
    node: AsteriskNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    # a short accept timeout keeps the not-accepted case quick
    settings = {"IVR311_ACCEPT_TIMEOUT_S": "4"}
    with durham_controller(node, tmp_path_factory.mktemp("controller"), settings) as process:
        yield process


@dataclass
class PlacedCall:
    """One call through the controller, seen from every side."""

    caller: SippParty
    centre: SippParty
    caller_exit: int
    centre_exit: int
    record: dict[str, Any]
    """The controller's decision record of the call."""
    events: list[dict[str, Any]]
    """The controller's log lines of this call."""
    asterisk_log: list[str]
    """Asterisk's log lines from the call's start to its end."""

    @property
    def states(self) -> list[str]:
        """The states the call went through, in order."""
        return [str(e["to"]) for e in self.events if e.get("event") == "call.transition"]

    def entered(self, state: str) -> float:
        """Wall-clock time the controller logged the call entering ``state``."""
        stamp = next(
            e["timestamp"]
            for e in self.events
            if e.get("event") == "call.transition" and e.get("to") == state
        )
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

    @property
    def attempts(self) -> list[tuple[str, str]]:
        return [(a["destination"], a["result"]) for a in self.record["attempts"]]

    def problems(self) -> list[str]:
        """Warnings and errors of the controller and of Asterisk during the call."""
        mine = [str(e) for e in self.events if e.get("level") != "info"]
        return mine + [
            line for line in self.asterisk_log if "] WARNING[" in line or "] ERROR[" in line
        ]


def place_call(
    node: AsteriskNode,
    controller: ControllerProcess,
    work: Path,
    centre: SippParty,
    *,
    calling: str,
    caller_steps: Sequence[Step],
    hang_up_in: str | None = "bridged",
    before_hang_up: Callable[[int], object] | None = None,
) -> PlacedCall:
    """Place a 311 call to the contact centre ``centre`` (already listening). With
    ``hang_up_in``, wait until the call reaches that state, call ``before_hang_up`` (if given,
    with the offset of the call's first line in Asterisk's log) and hang the caller up; else
    wait until Asterisk hangs up on the caller. Then collect what every party saw."""
    offset = node.log_size()
    caller: SippParty | None = None
    try:
        assert live_call(controller) is None, "a call of an earlier test is still in progress"
        caller = start_carrier_call(node, work, calling=calling, steps=caller_steps)
        seen = wait_until(lambda: live_call(controller), 20, "the controller to take the call")
        call_id = str(seen["call_id"])
        if hang_up_in is not None:

            def reached() -> bool:
                if caller is not None and caller.process.poll() is not None:
                    raise AssertionError(f"the caller left early: {caller.trace()[-2000:]}")
                call = live_call(controller)
                return call is not None and call["state"] == hang_up_in

            wait_until(reached, CALL_DEADLINE_S, f"the call to reach {hang_up_in}")
            if before_hang_up is not None:
                before_hang_up(offset)
            node.ari("DELETE", f"/channels/{call_id}?reason=normal")
        caller_exit = caller.wait(timeout_s=20 if hang_up_in else CALL_DEADLINE_S)
        centre_exit = centre.wait(timeout_s=20)
        record = wait_until(
            lambda: record_of(controller, call_id), 20, "the call's decision record"
        )
    finally:
        centre.kill()
        if caller is not None:
            caller.kill()
    events = [e for e in controller.log_events() if e.get("call_id") == call_id]
    return PlacedCall(
        caller,
        centre,
        caller_exit,
        centre_exit,
        record,
        events,
        node.log_lines(offset=offset),
    )


def music_on_hold(asterisk_log: list[str], channel: str) -> list[tuple[str, str]]:
    """Asterisk's log lines on the music on hold and the bridges of the channels whose names
    start with ``channel``, in order, as (what, line): ``started``, ``stopped`` (verbose level
    3; a play that suspends the music, or the hang-up, logs it too), ``joined`` and ``left`` (a
    bridge)."""
    said = (
        ("started", "Started music on hold, class 'default', on channel '" + channel),
        ("stopped", "Stopped music on hold on " + channel),
        ("joined", "Channel " + channel),
        ("left", "Channel " + channel),
    )
    return [
        (event, line)
        for line in asterisk_log
        for event, text in said
        if text in line and (event not in ("joined", "left") or f" {event} '" in line)
    ]


def music_stops(node: AsteriskNode, offset: int) -> None:
    """Wait until Asterisk's log since ``offset`` says a caller's music stopped."""
    wait_until(
        lambda: any(
            event == "stopped"
            for event, _ in music_on_hold(node.log_lines(offset=offset), "PJSIP/carrier-")
        ),
        10,
        "the caller's music to stop",
    )


def dialled(centre: SippParty) -> list[str]:
    """The request URIs of the INVITEs that dialled the centre (not re-INVITEs in a dialog,
    which go to its Contact, ``agent@``)."""
    return [uri for uri in centre.requests("INVITE") if not uri.startswith("sip:agent@")]


def test_the_controller_is_connected_and_ready(controller: ControllerProcess) -> None:
    ready = controller.get_json("/readyz")
    assert ready["ready"] is True
    assert ready["ari_connected"] is True
    assert metric(controller, "ivr311_ari_connected") == 1.0


def test_asterisk_sends_the_controller_only_the_event_types_it_uses(
    node: AsteriskNode, controller: ControllerProcess
) -> None:
    """...and the answers to its requests on the event socket, which Asterisk filters too."""
    application = node.ari("GET", "/applications/ivr311")
    assert {e["type"] for e in application["events_allowed"]} == EVENTS_ACTED_ON | {ANSWER_TYPE}
    assert application["events_disallowed"] == []
    # the socket's probe was answered: the controller's requests go there
    wait_until(
        lambda: any(e["event"] == "ari.requests_over_socket" for e in controller.log_events()),
        10,
        "the event socket to be proved",
    )


def test_a_bowmanville_caller_reaches_service_durham_agents_who_hear_the_whisper(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    offered = metric(controller, "ivr311_calls_offered_total", dialled="311")
    answered = metric(controller, TRANSFERS, target="durham-agents", result="answered")
    receiver = RtpReceiver()
    try:
        # The centre's SDP names the test's RTP receiver; SIPp sends the accept key.
        centre = start_contact_centre(
            node, tmp_path, steps=(2000, ACCEPT_KEY), media_port=receiver.port
        )
        call = place_call(
            node,
            controller,
            tmp_path,
            centre,
            calling=BOWMANVILLE_CALLER,
            caller_steps=(),
            before_hang_up=lambda offset: music_stops(node, offset),
        )
        whisper = receiver.audio_before(call.entered("bridged"))
    finally:
        receiver.close()
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    assert dialled(call.centre) == [f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"]
    record = call.record
    assert record["municipality"] == "clarington"
    assert record["evidence"] == "exchange"
    assert record["destination"] == "durham-agents"
    assert call.attempts == [("durham-agents", "answered")]
    assert record["outcome"] == "completed"
    assert record["durations"]["bridged_s"] > 0
    assert call.states == [
        "greeting",
        "transferring.hold",
        "transferring.ringing",
        "transferring.whisper",
        *(
            ["transferring.awaiting_accept"]
            if "transferring.awaiting_accept" in call.states
            else []
        ),
        "bridged",
        "ended",
    ]
    # The caller waited with music on their own channel, in no bridge; the music stopped once
    # they joined the centre, before their hang-up (Asterisk leaves it on in a bridge, where it
    # drowns the centre out), and did not start again. The centre heard the whisper (speech,
    # not silence) on its own leg before the caller was put through, then accepted with its key.
    music = music_on_hold(call.asterisk_log, "PJSIP/carrier-")
    assert [event for event, _ in music] == ["started", "joined", "stopped", "left"], music
    assert "holding" not in " ".join(line for _, line in music)
    assert any(
        "<PJSIP/contact-centres-" in line and "Playing 'ivr311/whisper-intro" in line
        for line in call.asterisk_log
    )
    # The greeting is one play request in English whose French offer names its French file:
    # Asterisk found and played it (it logs "Playing" only for a file it opened).
    assert any(
        "Playing 'fr_CA/ivr311/language-offer." in line and "(language 'en')" in line
        for line in call.asterisk_log
    )
    assert len(whisper) >= 25, f"{len(whisper)} RTP packets before the bridge"
    assert is_speech(whisper)
    assert metric(controller, "ivr311_calls_offered_total", dialled="311") == offered + 1
    assert metric(controller, TRANSFERS, target="durham-agents", result="answered") == answered + 1
    assert call.problems() == []


def test_an_ajax_pickering_caller_choosing_pickering_reaches_its_customer_care_centre(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    offered = metric(controller, "ivr311_calls_offered_total", dialled="311")
    choices = metric(controller, "ivr311_menu_outcomes_total", outcome="choice")
    answered = metric(controller, TRANSFERS, target="pickering-ccc", result="answered")
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY))
    call = place_call(
        node,
        controller,
        tmp_path,
        centre,
        calling=AJAX_PICKERING_CALLER,
        # the first key skips the greeting, the second answers the menu
        caller_steps=(1000, PICKERING_KEY, 2500, PICKERING_KEY),
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    assert dialled(call.centre) == [f"sip:{PICKERING_CCC}@127.0.0.2:{node.contact_centre_port}"]
    record = call.record
    assert record["digits"] == [PICKERING_KEY]
    assert record["evidence"] == "caller_choice"
    assert record["municipality"] == "pickering"
    assert record["kind"] == "municipality"
    assert call.attempts == [("pickering-ccc", "answered")]
    assert record["outcome"] == "completed"
    assert call.states[:3] == ["greeting", "menu", "transferring.hold"]
    assert metric(controller, "ivr311_calls_offered_total", dialled="311") == offered + 1
    assert metric(controller, "ivr311_menu_outcomes_total", outcome="choice") == choices + 1
    assert metric(controller, TRANSFERS, target="pickering-ccc", result="answered") == answered + 1
    assert call.problems() == []


def test_zero_during_the_greeting_reaches_the_agents(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    offered = metric(controller, "ivr311_calls_offered_total", dialled="311")
    zero_outs = metric(controller, "ivr311_zero_outs_total", where="greeting")
    answered = metric(controller, TRANSFERS, target="durham-agents", result="answered")
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY))
    call = place_call(
        node, controller, tmp_path, centre, calling=AJAX_PICKERING_CALLER, caller_steps=(1000, "0")
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    assert dialled(call.centre) == [f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"]
    record = call.record
    assert record["digits"] == ["0"]
    assert record["destination"] == "durham-agents"
    assert record["kind"] == "agent"
    assert call.attempts == [("durham-agents", "answered")]
    assert record["outcome"] == "completed"
    assert call.states[:2] == ["greeting", "transferring.hold"]  # no menu for the exchange
    assert metric(controller, "ivr311_calls_offered_total", dialled="311") == offered + 1
    assert metric(controller, "ivr311_zero_outs_total", where="greeting") == zero_outs + 1
    assert metric(controller, TRANSFERS, target="durham-agents", result="answered") == answered + 1
    assert call.problems() == []


def test_a_busy_pickering_centre_falls_back_to_service_durham_agents(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    busy = metric(controller, TRANSFERS, target="pickering-ccc", result="busy")
    next_link = metric(controller, "ivr311_fallbacks_total", kind="next_link")
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY), busy=PICKERING_CCC)
    call = place_call(
        node,
        controller,
        tmp_path,
        centre,
        calling=AJAX_PICKERING_CALLER,
        caller_steps=(1000, PICKERING_KEY, 2500, PICKERING_KEY),
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    port = node.contact_centre_port
    assert dialled(call.centre) == [
        f"sip:{PICKERING_CCC}@127.0.0.2:{port}",
        f"sip:{DURHAM_AGENTS}@127.0.0.2:{port}",
    ]
    assert call.attempts == [("pickering-ccc", "busy"), ("durham-agents", "answered")]
    assert call.record["outcome"] == "completed"
    assert metric(controller, TRANSFERS, target="pickering-ccc", result="busy") == busy + 1
    assert metric(controller, "ivr311_fallbacks_total", kind="next_link") == next_link + 1
    assert call.problems() == []


def test_a_centre_that_does_not_press_the_accept_key_is_not_connected(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    not_accepted = metric(controller, TRANSFERS, target="durham-agents", result="not_accepted")
    final = metric(controller, "ivr311_fallbacks_total", kind="final_message")
    centre = start_contact_centre(node, tmp_path)  # answers and never presses a key
    call = place_call(
        node,
        controller,
        tmp_path,
        centre,
        calling=AJAX_PICKERING_CALLER,
        caller_steps=(1000, "0"),
        hang_up_in=None,  # the caller hears the final message, then Asterisk hangs up
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)
    assert call.attempts == [("durham-agents", "not_accepted")]
    assert call.record["outcome"] == "message"
    assert "bridged" not in call.states
    assert "transferring.awaiting_accept" in call.states
    # No bridge to leave: the message's play ends the caller's music, and plays.
    music = music_on_hold(call.asterisk_log, "PJSIP/carrier-")
    assert [event for event, _ in music] == ["started", "stopped"], music
    message = next(
        i for i, line in enumerate(call.asterisk_log) if "Playing 'ivr311/transfer-failed" in line
    )
    assert call.asterisk_log.index(music[1][1]) < message
    assert (
        metric(controller, TRANSFERS, target="durham-agents", result="not_accepted")
        == not_accepted + 1
    )
    assert metric(controller, "ivr311_fallbacks_total", kind="final_message") == final + 1
    assert call.problems() == []


def test_a_caller_hanging_up_while_the_centre_rings_cancels_the_transfer(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    hangups = metric(controller, TRANSFERS, target="durham-agents", result="caller_hangup")
    centre = start_sipp(
        tmp_path,
        "centre",
        SCENARIOS / "contact_centre_no_answer.xml",
        local_ip=CONTACT_CENTRE_IP,
        local_port=node.contact_centre_port,
    )
    call = place_call(
        node,
        controller,
        tmp_path,
        centre,
        calling=AJAX_PICKERING_CALLER,
        caller_steps=(1000, "0"),
        hang_up_in="transferring.ringing",
    )
    assert (call.caller_exit, call.centre_exit) == (0, 0)  # the centre got its CANCEL
    assert call.centre.requests("CANCEL") == [
        f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"
    ]
    assert call.attempts == [("durham-agents", "caller_hangup")]
    assert call.record["outcome"] == "caller_hangup"
    assert (
        metric(controller, TRANSFERS, target="durham-agents", result="caller_hangup") == hangups + 1
    )
    assert call.problems() == []


def kill_and_restart_until_bridged(controller: ControllerProcess, call_id: str, what: str) -> None:
    """Kill the controller (SIGKILL), start it again and wait until it has put ``call_id``
    through to a person."""
    controller.kill()
    controller.restart()
    wait_until(
        lambda: (
            (c := live_call(controller)) is not None
            and c["call_id"] == call_id
            and c["state"] == "bridged"
        ),
        CALL_DEADLINE_S,
        f"{what} to be bridged",
    )


def saved_state(node: AsteriskNode, call_id: str) -> str | None:
    """The call's state saved on its caller's channel, if any."""
    try:
        answer = node.ari("GET", f"/channels/{call_id}/variable?variable=IVR311_STATE")
    except urllib.error.HTTPError:
        return None
    return str(answer["value"]) or None


@contextmanager
def a_caller_in_the_greeting(
    node: AsteriskNode, controller: ControllerProcess, work: Path
) -> Iterator[tuple[SippParty, str]]:
    """A Bowmanville caller whose call is in the greeting: the caller's SIPp and the call id.
    The caller is killed at the end of the block."""
    caller = start_carrier_call(node, work, calling=BOWMANVILLE_CALLER)
    try:
        seen = wait_until(
            lambda: (c := live_call(controller)) is not None and c["state"] == "greeting" and c,
            20,
            "the call to reach the greeting",
        )
        yield caller, str(seen["call_id"])
    finally:
        caller.kill()


def test_a_caller_in_the_greeting_of_a_killed_controller_is_greeted_again(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    """SIGKILL during the greeting, then a new ``ivr311 run``: it finds the caller with no
    saved state on the channel (the greeting saves none), stops the greeting it played, plays
    it again from its start and the call goes on to the agents, on the same channel, answered
    once (by the dialplan)."""
    centre = start_contact_centre(node, tmp_path, steps=(2000, ACCEPT_KEY))
    offset = node.log_size()
    try:
        with a_caller_in_the_greeting(node, controller, tmp_path) as (caller, call_id):
            assert saved_state(node, call_id) is None
            kill_and_restart_until_bridged(controller, call_id, "the call started afresh")
            record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
    assert record["outcome"] == "completed"
    assert record["attempts"][-1]["result"] == "answered"
    assert dialled(centre) == [f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"]
    lines = node.log_lines(offset=offset)
    assert not any("ivr311-fallback" in line for line in lines)
    stopped = next(
        i
        for i, line in enumerate(lines)
        if f"{call_id}: Playback stopped for sound:ivr311/" in line
    )
    # the greeting from its start after the first controller's was stopped
    again = [line for line in lines[stopped:] if "<PJSIP/carrier-" in line]
    assert any("Playing 'ivr311/host-durham" in line for line in again)
    assert sum('Answer("PJSIP/carrier' in line for line in lines) == 1  # the dialplan's
    assert metric(controller, "ivr311_calls_handed_back_total", reason="reconcile") == 0


def test_a_caller_in_the_greeting_of_a_killed_controller_reaches_the_fallback_at_once(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    """SIGKILL during the greeting, then a new ``ivr311 run`` that cannot read the call's saved
    state: its reconcile stops the greeting before continuing the caller (Asterisk would run
    the continue only once the greeting had played out), so the fallback dials the agents while
    the greeting still had seconds to go."""
    offset = node.log_size()
    centre = start_contact_centre(node, tmp_path)  # answers, waits for the hang-up
    try:
        with a_caller_in_the_greeting(node, controller, tmp_path) as (caller, call_id):
            controller.kill()
            # A controller that finds the caller's state unreadable (it reads a dialplan
            # function, the calling number, as its state variable; a variable written now
            # would wait for the greeting to end): nothing to resume from.
            controller.restart({"IVR311_STATE_VARIABLE": "CALLERID(num)"})
            wait_until(lambda: dialled(centre), 30, "the fallback to dial the centre")
            lines = node.log_lines(offset=offset)
            # The greeting prompt playing at the kill (the host's name, the greeting or the
            # French language offer) was cut short, then the caller went on in the fallback
            # context.
            stopped = next(
                i
                for i, line in enumerate(lines)
                if f"{call_id}: Playback stopped for sound:" in line and "ivr311/" in line
            )
            assert any("Executing [311@ivr311-fallback:1]" in line for line in lines[stopped:])
            node.ari("DELETE", f"/channels/{call_id}?reason=normal")
            assert caller.wait(timeout_s=20) == 0
        assert centre.wait(timeout_s=20) == 0
    finally:
        centre.kill()
    assert dialled(centre) == [f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"]
    assert metric(controller, "ivr311_calls_handed_back_total", reason="reconcile") == 1


def test_a_caller_on_hold_of_a_killed_controller_keeps_the_music_and_is_put_through(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    """SIGKILL while the agents ring, then a new ``ivr311 run``: the caller, on hold on their
    own channel, hears the music on through the restart (Asterisk stops it only once the caller
    joins the agents), the new controller waits for the same leg instead of dialling again, and
    the call is put through with the music stopped."""
    controller.restart()  # with its own settings: an earlier test may have run it with others
    centre = start_contact_centre(node, tmp_path, steps=(2000, ACCEPT_KEY), ring_ms=15000)
    offset = node.log_size()
    caller = start_carrier_call(
        node, tmp_path, calling=AJAX_PICKERING_CALLER, steps=(1000, "0"), timeout_s=90
    )
    try:
        seen = wait_until(
            lambda: (
                (c := live_call(controller)) is not None
                and c["state"] == "transferring.ringing"
                and c
            ),
            30,
            "the agents to ring",
        )
        call_id = str(seen["call_id"])

        def hold_saved() -> bool:
            saved = SavedCall.decode(saved_state(node, call_id))
            return saved is not None and saved.state is CallState.TRANSFER_HOLD

        wait_until(hold_saved, 10, "the hold state to be saved")
        kill_and_restart_until_bridged(controller, call_id, "the taken-over call")
        music_stops(node, offset)  # while the caller is still there
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        caller.kill()
        centre.kill()
    assert record["outcome"] == "completed"
    assert record["attempts"][-1]["result"] == "answered"
    assert dialled(centre) == [f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"]
    music = music_on_hold(node.log_lines(offset=offset), "PJSIP/carrier-")
    assert [event for event, _ in music] == ["started", "joined", "stopped", "left"], music
    assert metric(controller, "ivr311_calls_handed_back_total", reason="reconcile") == 0
