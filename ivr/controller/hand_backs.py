"""Callers the controller itself hands to the dialplan fallback context.

A channel the controller will not handle (found at reconcile with no call of its, or a new
caller while draining or without rules) is continued to the fallback context, counted with its
reason. A call that ended handing its caller back while Asterisk did not answer counted the
hand-back already; its caller is remembered here, unconfirmed, and continued again after the
next reconnect until Asterisk confirms it or the caller is gone.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ivr.ari import AriClient, AriError
from ivr.call import ids
from ivr.call.resources import stop_playbacks
from ivr.metrics import Metrics

log = structlog.get_logger(__name__)


class HandBacks:
    """Hand-backs to ``fallback_context`` made by the controller, and those of ended calls
    Asterisk did not confirm; ``settled`` is called when one of those is no longer pending."""

    def __init__(
        self,
        ari: AriClient,
        metrics: Metrics,
        fallback_context: str,
        settled: Callable[[], None],
    ) -> None:
        self._ari = ari
        self._metrics = metrics
        self._fallback_context = fallback_context
        self._settled = settled
        self._unconfirmed: dict[str, tuple[str, str]] = {}
        """Caller channel -> (extension, reason) of ended calls whose hand-back Asterisk did
        not confirm: already counted, continued at the next reconcile."""

    def __contains__(self, channel: object) -> bool:
        """Whether ``channel`` is a caller whose hand-back is still unconfirmed."""
        return channel in self._unconfirmed

    @property
    def pending(self) -> bool:
        """Some hand-back is still to confirm."""
        return bool(self._unconfirmed)

    def channels(self) -> set[str]:
        return set(self._unconfirmed)

    def unconfirmed(self, channel_id: str, extension: str, reason: str) -> None:
        """A call ended handing ``channel_id`` back, and Asterisk did not confirm it."""
        self._unconfirmed[channel_id] = (extension, reason)

    def forget(self, channel_id: str) -> None:
        """The caller hung up, or the hand-back went through after all."""
        del self._unconfirmed[channel_id]

    def forget_absent(self, present: frozenset[str]) -> None:
        """Forget the callers no longer in the application: hung up, or handed back after all."""
        for channel_id in [c for c in self._unconfirmed if c not in present]:
            del self._unconfirmed[channel_id]

    def to_confirm(self) -> list[tuple[str, str, str]]:
        """(channel, extension, reason) of each hand-back still to confirm."""
        return [(c, ext, reason) for c, (ext, reason) in self._unconfirmed.items()]

    async def _stop_possible_prompts(self, channel_id: str) -> None:
        """Stop the prompts an earlier controller may have left playing to a caller, at once
        (404 counts as done): Asterisk runs a continue only after the playback in progress
        and those queued before it, so the caller would otherwise hear them out first."""
        await self._stop_playbacks(ids.early_playback_ids(channel_id), channel_id)

    async def _stop_playbacks(self, playback_ids: list[str], channel_id: str) -> None:
        """Stop an earlier controller's playbacks on ``channel_id`` (`stop_playbacks`); after a
        failure the rest are left."""
        await stop_playbacks(
            self._ari,
            playback_ids,
            "controller.stop_playback_failed",
            give_up=True,
            channel=channel_id,
        )

    async def continue_unknown(
        self, channel_id: str, extension: str, reason: str, *, stop_prompts: bool = False
    ) -> None:
        """Hand a channel the controller will not handle to the dialplan fallback context
        (first, for a caller an earlier controller had, stopping the prompts and the music on
        hold it may hear: the music would follow it into the dialplan)."""
        if stop_prompts:
            await self._stop_possible_prompts(channel_id)
            try:
                await self._ari.stop_moh(channel_id=channel_id)
            except AriError as exc:
                log.warning("controller.stop_music_failed", channel=channel_id, error=str(exc))
        try:
            await self._ari.continue_in_dialplan(channel_id, self._fallback_context, extension, 1)
        except AriError as exc:
            log.warning("controller.continue_failed", channel=channel_id, error=str(exc))
            return
        self._metrics.handed_back.labels(reason).inc()
        log.info("controller.handed_back", channel=channel_id, reason=reason)

    async def confirm(self, channel_id: str, extension: str, reason: str) -> None:
        """Continue a caller whose call ended handed back while Asterisk did not answer; the
        call counted it then, so it is not counted again. Its prompts are stopped first: the
        call's own stop requests may have failed too."""
        await self._stop_possible_prompts(channel_id)
        try:
            await self._ari.continue_in_dialplan(channel_id, self._fallback_context, extension, 1)
        except AriError as exc:
            log.warning("controller.continue_failed", channel=channel_id, error=str(exc))
            if not (exc.is_gone or exc.is_conflict):
                return  # still unconfirmed: tried again after the next reconnect
        else:
            log.info("controller.handed_back", channel=channel_id, reason=reason, late=True)
        if self._unconfirmed.pop(channel_id, None) is not None:
            self._settled()
