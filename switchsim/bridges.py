"""Bridges on the simulated Asterisk: creating and destroying them, channels entering and
leaving, and the events about it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from switchsim.asterisk_state import AsteriskState
from switchsim.objects import FakeBridge, FakeChannel, SwitchError, ari_timestamp


class Bridges(AsteriskState):
    """``/bridges`` requests, and a channel leaving its bridge."""

    def create_bridge(self, bridge_id: str, type_: str | None, name: str | None) -> dict[str, Any]:
        if bridge_id in self.bridges:
            raise SwitchError(409, f"Bridge with id '{bridge_id}' already exists")
        kinds = {k.strip() for k in (type_ or "mixing").split(",") if k.strip()}
        allowed = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single"}
        if not kinds <= allowed or ("mixing" in kinds and "holding" in kinds):
            raise SwitchError(400, "Invalid bridge type")
        bridge_type = "holding" if "holding" in kinds else "mixing"
        bridge = FakeBridge(bridge_id, bridge_type, name or "", created=ari_timestamp())
        self.bridges[bridge_id] = bridge
        self._changed()
        return bridge.snapshot()

    def get_bridge(self, bridge_id: str) -> dict[str, Any]:
        return self._bridge(bridge_id).snapshot()

    def _bridge(self, bridge_id: str) -> FakeBridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise SwitchError(404, "Bridge not found")
        return bridge

    def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        bridge = self._bridge(bridge_id)
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SwitchError(400, "Channel not found")
            if not ch.in_app:
                raise SwitchError(422, "Channel not in Stasis application")
            chans.append(ch)
        for ch in chans:
            if ch.bridge_id == bridge_id:
                continue
            self._leave_bridge(ch)
            if bridge.app is None:
                # Asterisk subscribes an application to a bridge when its channel enters.
                bridge.app = ch.subscribed_app
            bridge.channels.append(ch.id)
            ch.bridge_id = bridge_id
            ch.record.bridges.append(bridge_id)
            self._note(ch, f"entered {bridge.bridge_type} bridge {bridge_id}")
            if bridge.bridge_type == "mixing":
                for other_id in bridge.channels:
                    other = self.channels[other_id]
                    if other_id != ch.id:
                        if other_id not in ch.record.bridged_with:
                            ch.record.bridged_with.append(other_id)
                        if ch.id not in other.record.bridged_with:
                            other.record.bridged_with.append(ch.id)
                            self._touch(other_id)
            self._emit_for(
                ch,
                {
                    "type": "ChannelEnteredBridge",
                    "bridge": bridge.snapshot(),
                    "channel": ch.snapshot(),
                },
            )
        self._changed()

    def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        self._bridge(bridge_id)
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SwitchError(400, "Channel not found")
        if ch.bridge_id != bridge_id:
            raise SwitchError(422, "Channel not in this bridge")
        self._leave_bridge(ch)
        self._changed()

    def _leave_bridge(self, ch: FakeChannel) -> None:
        if ch.bridge_id is None:
            return
        bridge = self.bridges.get(ch.bridge_id)
        ch.bridge_id = None
        if bridge is None:
            return
        bridge.channels.remove(ch.id)
        self._note(ch, f"left bridge {bridge.id}")
        self._emit_for(
            ch,
            {"type": "ChannelLeftBridge", "bridge": bridge.snapshot(), "channel": ch.snapshot()},
        )

    def destroy_bridge(self, bridge_id: str) -> None:
        bridge = self._bridge(bridge_id)
        for cid in list(bridge.channels):
            self._leave_bridge(self.channels[cid])
        del self.bridges[bridge_id]
        self._emit(bridge.app, {"type": "BridgeDestroyed", "bridge": bridge.snapshot()})
        self._changed()
