"""Benchmarks run under a real, approved authorisation; a second clip of the same run gets
its own, and the watchlists move to it."""

from __future__ import annotations

from pathlib import Path

from citywatch.bench.authorised import authorise_benchmark
from citywatch.config.settings import Settings
from citywatch.domain.policy import AuthorisationStatus
from citywatch.runtime.build import Runtime


def test_a_second_authorisation_takes_over_the_watchlists(tmp_path: Path) -> None:
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    try:
        rt.watchlists.create_watchlist("bench")
        first = authorise_benchmark(rt, ["bench"])
        second = authorise_benchmark(rt, ["bench"])
        infos = {a.authorisation.reference: a for a in rt.governance.authorisations()}
        assert infos[first].authorisation.status is AuthorisationStatus.APPROVED
        assert infos[second].authorisation.status is AuthorisationStatus.APPROVED
        assert infos[second].authorisation.watchlists == {"bench"}
        assert not infos[first].authorisation.watchlists
    finally:
        rt.close()
