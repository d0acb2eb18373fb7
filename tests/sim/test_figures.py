"""What the simulated city's report makes of what it gathered: latencies from track end to the
stored alert and to the operator's feed (an alert missing from the feed counted, not hidden),
rates over the measured window only, CPU and memory per process, the speed-up from one process
to two, and each target judged met or not met from those figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.sim import figures
from citywatch.sim.processes import Sample
from citywatch.sim.report import write_report

T0 = 1_000.0


def sample(t: float, *, sightings: int, cpu: float, busy: float, pending: int = 0) -> Sample:
    return Sample(
        T0 + t,
        {"worker-1": 300.0 + t},
        {"worker-1": cpu},
        pending,
        sightings,
        0,
        10 * sightings,
        sightings,
        busy,
    )


def stats(rate: float, seconds: int = 10) -> list[dict[str, float]]:
    return [
        {
            "t": T0 + s,
            "held": 500,
            "probes": rate * s,
            "handed_on": s,
            "false_matches": 0.0,
            "busy_s": 0.5 * s,
            "behind_s": 0.0,
        }
        for s in range(-3, seconds + 1)
    ]


def test_the_city_figures_measure_the_window_and_count_alerts_missing_from_the_feed() -> None:
    alerts = [
        (1, "virtual-00001", T0 + 1, T0 + 1.2),
        (2, "virtual-00002", T0 + 2, T0 + 2.4),
        (3, "real-0", T0 + 3, T0 + 4.5),
    ]
    received = {1: T0 + 1.3, 3: T0 + 4.6}
    samples = [sample(s, sightings=20 * s, cpu=0.8 * s, busy=1.5 * s, pending=s % 3) for s in range(11)]
    c = figures.city(0.1, alerts, [0.1, 0.2, 0.3], received, samples, {"worker-1": stats(40.0)}, T0, T0 + 10)
    virtual = c["latency"]["virtual"]
    assert virtual["to_stored_ms"]["n"] == 2 and virtual["to_stored_ms"]["max"] == pytest.approx(400)
    assert virtual["to_feed_ms"] == {
        "n": 1,
        "p50": pytest.approx(300),
        "p95": pytest.approx(300),
        "p99": pytest.approx(300),
        "max": pytest.approx(300),
    }
    assert virtual["not_on_feed"] == 1
    assert c["latency"]["real"]["to_feed_ms"]["p50"] == pytest.approx(1600)
    worker = c["workers"]["worker-1"]
    assert worker["probes_per_s"] == pytest.approx(40.0)  # the lines before the window left out
    assert worker["offered_per_s"] == pytest.approx(50.0) and worker["busy_share"] == pytest.approx(0.5)
    assert c["database"]["sightings_per_s"] == pytest.approx(20.0)
    assert c["processes"]["worker-1"] == {"rss_mb_peak": 310.0, "cpu_cores": pytest.approx(0.8)}
    assert c["processes"]["whole machine"]["cpu_cores"] == pytest.approx(1.5)
    assert c["bus_pending"]["max"] == 2
    feed = c["series"]["feed_latency_ms"]  # the plot's curves, one per kind of camera
    assert feed["virtual"] == [pytest.approx(300)] and feed["real"] == [pytest.approx(1600)]


def test_store_rates_leave_the_process_start_out_and_speedups_compare_two_with_one() -> None:
    samples = [sample(s, sightings=100 if s < 3 else 100 + 500 * (s - 2), cpu=s, busy=s) for s in range(8)]
    stores = figures.flat_out_stores(1, samples, before=100, sightings=2500)
    assert stores["sightings_per_s"] == pytest.approx(500.0)
    parts = [{"processes": 1, "rate": 1000.0}, {"processes": 2, "rate": 1600.0}]
    assert figures.speedup(parts, "rate") == pytest.approx(1.6)
    assert figures.speedup(parts[:1], "rate") is None
    assert figures.percentiles([]) == {"n": 0}


def test_the_report_judges_each_target_from_the_figures(tmp_path: Path) -> None:
    results = {
        "options": {"virtual": 1000, "real": 4, "faces_per_s": 0.1, "enrolled_share": 0.02},
        "gallery": {"templates": 10_000},
        "workers": [
            {"processes": 1, "total_probes_per_s": 2500.0, "probes_per_s": {"w": 2500.0}, "usage": {}},
            {
                "processes": 2,
                "total_probes_per_s": 3000.0,
                "probes_per_s": {"a": 1500.0, "b": 1500.0},
                "usage": {},
            },
        ],
        "stores": [
            {"processes": 1, "sightings_per_s": 900.0, "usage": {}},
            {"processes": 2, "sightings_per_s": 1800.0, "usage": {}},
        ],
    }
    files = write_report(results, tmp_path, {"command": "citywatch sim", "date": "today", "machine": "here"})
    text = Path(files["markdown"]).read_text()
    assert "| one worker ≥ 2,000 probes/s | 2,500 | met |" in text
    assert "| one store process ≥ 1,000 sightings/s | 900 | **not met** |" in text
    assert "| 2 workers ≥ 1.5× one | 1.20× | **not met** |" in text
    assert "| 2 stores ≥ 1.5× one | 2.00× | met |" in text
    assert '"workers": 1.2' in Path(files["json"]).read_text()
