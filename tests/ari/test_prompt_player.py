"""A prompt set whose say media need two languages plays as two playbacks the player treats
as one: it is over with its last playback, and one stop stops both."""

from __future__ import annotations

import pytest

from ivr.ari import AriClient
from ivr.call.resources import Playing, PromptPlayer
from routing_rules.decision import PromptRef
from switchsim import FakeAri
from switchsim.traffic import prompts_heard

EN, FR = "en", "fr_CA"
SAID_IN_TWO_LANGUAGES = (
    PromptRef("status-request", EN),
    PromptRef("digits:12", EN),
    PromptRef("status-request", FR),
    PromptRef("digits:12", FR),
)


@pytest.mark.parametrize("switch", [{"playback_s": 0.01}], indirect=True)
async def test_say_media_in_two_languages_play_as_two_playbacks_of_one_set(
    fake: FakeAri, client: AriClient
) -> None:
    call_id = fake.switch.place_call()
    player = PromptPlayer(client, call_id)
    assert await player.play(call_id, SAID_IN_TWO_LANGUAGES) is Playing.STARTED
    caller = fake.switch.record(call_id)
    await fake.switch.wait_for(lambda: all(p.state == "done" for p in caller.plays))
    assert [p.lang for p in caller.plays] == [EN, FR]
    assert prompts_heard(caller) == list(SAID_IN_TWO_LANGUAGES)
    first, second = (p.playback_id for p in caller.plays)
    assert not player.finished(first)
    assert player.finished(second)  # the set is over with its last playback


@pytest.mark.parametrize("switch", [{"playback_s": 60.0}], indirect=True)
async def test_stopping_a_set_of_two_playbacks_stops_both(fake: FakeAri, client: AriClient) -> None:
    call_id = fake.switch.place_call()
    player = PromptPlayer(client, call_id)
    await player.play(call_id, SAID_IN_TWO_LANGUAGES)
    caller = fake.switch.record(call_id)
    await fake.switch.wait_for(lambda: caller.plays[0].state == "playing")
    await player.stop()
    assert [(p.started, p.state) for p in caller.plays] == [
        (True, "stopped"),
        (False, "stopped"),
    ]
