"""The city's commands on a machine that is not set up as a city: a clear refusal, saying
what to set, and nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import citywatch


@pytest.mark.parametrize("command", ["worker", "store", "serve"])
def test_a_city_command_without_a_bus_says_what_to_set(
    tmp_path: Path, shared_data: Path, command: str
) -> None:
    result = citywatch(tmp_path, shared_data, command)
    assert result.code != 0
    assert f"`citywatch {command}` is a process of a city" in " ".join(result.stderr.split())
    assert "bus: nats://" in result.stderr


def test_a_worker_whose_nats_is_away_says_so(tmp_path: Path, shared_data: Path) -> None:
    from citywatch.cluster.servers import free_port  # noqa: PLC0415

    result = citywatch(
        tmp_path, shared_data, "worker", env={"CITYWATCH_BUS": f"nats://127.0.0.1:{free_port()}"}
    )
    assert result.code != 0
    assert "cannot connect to NATS" in " ".join(result.stderr.split())
