"""How a set of prompts becomes ARI play requests, and which prompt a played media URI was.

A recorded prompt plays as a sound file (`recordings.manifest.sound_name`): in the language of
its play request as ``sound:ivr311/<id>``, in any other as ``sound:<language>/ivr311/<id>``
(Asterisk finds ``<language>/ivr311/<id>`` whatever the request's language). So prompts of
several languages play as one request: one playback, one PlaybackFinished, one ``DELETE`` to
stop them all. Asterisk's own say media (``digits:``, ``number:``...) take their language from
the request's ``lang``: only a set whose say media need two languages takes more than one.
"""

from __future__ import annotations

from dataclasses import dataclass

from recordings.manifest import parse_sound_name, sound_name
from routing_rules.decision import PromptRef, Prompts

SOUND = "sound:"


@dataclass(frozen=True, slots=True)
class PlayRequest:
    """One play request: its ``lang`` and its media URIs in order."""

    language: str
    media: tuple[str, ...]


def is_say_media(prompt: PromptRef) -> bool:
    """Whether the prompt is Asterisk's own say media (``digits:12``), not a recording."""
    return ":" in prompt.id


def media_uri(prompt: PromptRef, play_language: str) -> str:
    """The media URI that plays ``prompt`` in a request whose ``lang`` is ``play_language``."""
    if is_say_media(prompt):
        return prompt.id
    language = None if prompt.language == play_language else prompt.language
    return SOUND + sound_name(prompt.id, language)


def play_requests(prompts: Prompts) -> list[PlayRequest]:
    """The fewest play requests that play ``prompts`` in order. A request's ``lang`` is the
    language of its say media, else of its first prompt."""
    groups: list[tuple[str | None, list[PromptRef]]] = []
    for prompt in prompts:
        said = prompt.language if is_say_media(prompt) else None
        if groups and said in (None, groups[-1][0]):
            groups[-1][1].append(prompt)
        elif groups and groups[-1][0] is None:
            groups[-1] = (said, [*groups[-1][1], prompt])
        else:
            groups.append((said, [prompt]))
    requests = []
    for said, group in groups:
        language = said or group[0].language
        requests.append(PlayRequest(language, tuple(media_uri(p, language) for p in group)))
    return requests


def prompt_heard(uri: str, play_language: str) -> PromptRef:
    """The prompt a media URI of a request with ``lang`` ``play_language`` plays (say media
    as they are, in that language)."""
    parsed = parse_sound_name(uri.removeprefix(SOUND)) if uri.startswith(SOUND) else None
    if parsed is None:
        return PromptRef(uri, play_language)
    language, prompt_id = parsed
    return PromptRef(prompt_id, language or play_language)
