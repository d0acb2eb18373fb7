"""What every fuzz target shares: the run loop, the errors that count as a clear refusal, and
seed inputs made at start (never copied from the shared data).

A target is a module with `TARGET` (a function of the fuzzer's bytes) and `seeds()` (valid
inputs to start from). A target may raise only `CitywatchError` (a clear, typed refusal);
anything else, a crash, a hang past the per-input timeout or memory past the limit is a
finding. Run one with `python -m tests.fuzz.run NAME [libFuzzer flags]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Target = Callable[[bytes], None]


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    name: str
    target: Target
    seeds: Callable[[], Iterable[bytes]]
    what: str
