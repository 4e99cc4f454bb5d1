"""Serve the fake ARI on its own: ``python -m switchsim --port 8088``.

Point a controller (or curl) at it and drive it through the ``/_fake/`` control API, e.g.
``curl -XPOST localhost:8088/_fake/calls -d '{"dialled": "311", "calling": "9055550123"}'``.
"""

from __future__ import annotations

import argparse
import asyncio

from ivr.logs import configure_logging
from switchsim.server import FakeAri
from switchsim.switch import FakeSwitch


async def serve(args: argparse.Namespace) -> None:
    switch = FakeSwitch(playback_s=args.playback_s, answer_before_stasis=not args.unanswered)
    async with FakeAri(
        user=args.user, password=args.password, host=args.host, port=args.port, switch=switch
    ) as fake:
        print(f"fake ARI listening on {fake.url} (ARI under /ari, control under /_fake)")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--user", default="ivr311")
    parser.add_argument("--password", default="ivr311")
    parser.add_argument("--playback-s", type=float, default=1.0, help="seconds per media URI")
    parser.add_argument(
        "--unanswered",
        action="store_true",
        help="callers enter Stasis unanswered (a dialplan without Answer() before Stasis())",
    )
    args = parser.parse_args(argv)
    configure_logging()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
