"""``ivr311 fastagi`` as an admin starts it: it says where it listens, answers, and stops on
SIGTERM; an address it cannot use is a settings error naming where it came from."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agi_testing import MONDAY_MORNING
from fastagi_testing import argument_lines, request

ENVIRONMENT = b"agi_callerid: 9056230123\nagi_extension: 311\n"


def command_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env |= {
        "IVR311_DATABASE_URL": f"sqlite:///{tmp_path / 'rules.db'}",
        "IVR311_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    return env


@contextmanager
def fastagi(tmp_path: Path, *args: str, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr311.cli", "fastagi", *args],
        env=command_env(tmp_path, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_it_says_where_it_listens_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with fastagi(tmp_path, "--listen", "127.0.0.1:0") as process:
        assert process.stdout is not None
        banner = process.stdout.readline().decode()
        assert banner.startswith("ivr311 fastagi: agi://127.0.0.1:")
        port = int(banner.rsplit(":", 1)[1])
        arguments = argument_lines(["--at", MONDAY_MORNING.isoformat()])
        variables = request(port, ENVIRONMENT + arguments + b"\n").variables
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert variables["IVR311_MUNICIPALITY"] == "clarington"
    assert (tmp_path / "rules.db").exists()  # seeded from IVR311_RULES, as ivr311 run does


def test_an_address_in_use_is_a_settings_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with fastagi(tmp_path, IVR311_FASTAGI_LISTEN=address) as process:
            _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"IVR311_FASTAGI_LISTEN: cannot listen on {address}" in stderr.decode()
    assert "Traceback" not in stderr.decode()


def test_a_malformed_address_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with fastagi(tmp_path, IVR311_FASTAGI_LISTEN="nowhere") as process:
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "IVR311_FASTAGI_LISTEN: expected HOST:PORT" in stderr.decode()
    assert not (tmp_path / "rules.db").exists()
