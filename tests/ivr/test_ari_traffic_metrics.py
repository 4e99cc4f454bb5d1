"""The controller counts its ARI traffic: requests by method, path template and transport,
events by type, so operators can see what a call costs Asterisk."""

from __future__ import annotations

from ivr_testing import Harness, inside_number

PLAY = "/channels/{id}/play/{playbackId}"
ANSWER = "/channels/{id}/answer"


async def test_a_call_counts_its_requests_by_path_template_and_its_events_by_type(
    harness: Harness,
) -> None:
    call_id = harness.call(inside_number(harness.snapshot), answered=False)
    await harness.in_greeting(call_id)
    harness.switch.hangup_caller(call_id)
    await harness.ended(call_id)

    plays = harness.requests_for(call_id, "play/")
    answers = harness.requests_for(call_id, "answer")
    assert plays and answers == 1
    # the play goes on the event socket; the answer, which waits for the channel's own
    # thread inside Asterisk, over HTTP
    on_socket = {"method": "POST", "path": PLAY, "transport": "socket"}
    over_http = {"method": "POST", "path": ANSWER, "transport": "http"}
    assert harness.metric("ivr311_ari_requests_total", on_socket) == plays
    assert harness.metric("ivr311_ari_requests_total", over_http) == answers
    assert harness.metric("ivr311_ari_events_total", {"type": "StasisStart"}) == 1
    paths = {
        sample.labels["path"]
        for family in harness.controller.metrics.ari_requests.collect()
        for sample in family.samples
    }
    assert not [path for path in paths if call_id in path]  # bounded label values
