"""A prompt set plays as one playback whatever languages it mixes: one play request, one
PlaybackFinished, one stop; only say media that need two languages take two."""

from __future__ import annotations

from typing import Any

import pytest
from ivr_testing import GREETING, Harness, inside_number

from ivr.call.media import PlayRequest, play_requests, prompt_heard
from recordings.manifest import SOUNDS_DIR
from routing_rules.decision import PromptRef
from switchsim import FakeSwitch
from switchsim.traffic import prompts_heard

EN, FR = "en", "fr_CA"
FRENCH_OFFER = "sound:fr_CA/ivr311/language-offer"


def recorded(name: str) -> bool:
    """Whether the project ships the sound file Asterisk would look for (``en/ivr311/x``)."""
    return (SOUNDS_DIR / f"{name}.wav").is_file()


def playback_events(switch: FakeSwitch, playback_id: str) -> list[dict[str, Any]]:
    """The events the switch emitted about one playback, in order."""
    return [
        e.payload for e in switch.events if e.payload.get("playback", {}).get("id") == playback_id
    ]


@pytest.mark.parametrize(
    ("prompts", "requests"),
    [
        ((), []),
        (
            (PromptRef("greeting", EN), PromptRef("language-offer", FR)),
            [PlayRequest(EN, ("sound:ivr311/greeting", "sound:fr_CA/ivr311/language-offer"))],
        ),
        (
            (PromptRef("greeting", FR), PromptRef("language-offer", EN)),
            [PlayRequest(FR, ("sound:ivr311/greeting", "sound:en/ivr311/language-offer"))],
        ),
        (
            (PromptRef("status-request", EN), PromptRef("digits:12", FR)),
            [PlayRequest(FR, ("sound:en/ivr311/status-request", "digits:12"))],
        ),
        (
            (
                PromptRef("status-request", EN),
                PromptRef("digits:12", EN),
                PromptRef("status-request", FR),
                PromptRef("digits:12", FR),
                PromptRef("goodbye", EN),
            ),
            [
                PlayRequest(
                    EN,
                    (
                        "sound:ivr311/status-request",
                        "digits:12",
                        "sound:fr_CA/ivr311/status-request",
                    ),
                ),
                PlayRequest(FR, ("digits:12", "sound:en/ivr311/goodbye")),
            ],
        ),
    ],
)
def test_a_set_takes_one_request_unless_its_say_media_need_two_languages(
    prompts: tuple[PromptRef, ...], requests: list[PlayRequest]
) -> None:
    assert play_requests(prompts) == requests
    heard = [prompt_heard(uri, r.language) for r in requests for uri in r.media]
    assert heard == list(prompts)


async def test_a_bilingual_greeting_is_one_playback_a_key_stops(harness: Harness) -> None:
    harness.switch.sound_exists = recorded
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    caller = harness.record(call_id)
    [greeting] = caller.plays
    assert {prompt.language for prompt in prompts_heard(caller)} == {EN, FR}
    harness.switch.press(call_id, "5")
    await harness.until(lambda: len(caller.plays) > 1, channel_id=call_id)
    assert greeting.state == "stopped"
    events = playback_events(harness.switch, greeting.playback_id)
    assert [e["type"] for e in events].count("PlaybackFinished") == 1
    # the key ends the whole set: the French offer after the greeting never starts
    assert FRENCH_OFFER in greeting.media
    assert FRENCH_OFFER not in {e["playback"]["media_uri"] for e in events}
    assert harness.requests_for(call_id, "play/") == 2  # the greeting, then the transfer one


@pytest.mark.parametrize("french_recorded", [True, False])
async def test_a_bilingual_greeting_plays_its_french_file(
    harness: Harness, *, french_recorded: bool
) -> None:
    harness.switch.sound_exists = lambda name: (
        recorded(name) and (french_recorded or not name.startswith(FR))
    )
    harness.switch.media_durations[GREETING] = 0.02
    call_id = harness.call(inside_number(harness.snapshot))
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.plays) > 1, channel_id=call_id)
    greeting = caller.plays[0]
    assert greeting.state == "done"
    finished = [
        event
        for event in playback_events(harness.switch, greeting.playback_id)
        if event["type"] == "PlaybackFinished"
    ]
    assert len(finished) == 1
    missing = [line for line in caller.history if line.startswith("media missing")]
    assert missing == ([] if french_recorded else [f"media missing {FRENCH_OFFER}"])
