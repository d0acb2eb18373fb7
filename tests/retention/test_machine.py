"""A Hypothesis state machine over ingest / place hold / release hold / advance the clock /
purge / a purge killed before or after its commit. Invariants: no held item is ever
deleted; after a purge nothing older than retention survives unless held; every deletion
is in a receipt; no file outlives its row once a purge has completed."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.policy import Window
from citywatch.domain.retention import DataClass, Hold, HoldBounds, ItemRef, held
from citywatch.retention.hold_records import NewHold
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from tests.databases import own_database
from tests.store.helpers import T0, Clock, sighting

ANN = Actor("ann", "supervisor")
SYSTEM = Actor("citywatch@system", "system", service=True)
CAMERAS = ("gate", "yard")
H = timedelta(hours=1)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


class RetentionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="retention-sm-"))
        self.database = ExitStack()
        self.database.enter_context(own_database())  # each example starts from an empty store
        self.rt = Runtime(Settings(data_dir=self.tmp / "data"))
        self.clock = Clock(T0)
        self.policy = RetentionSettings(sightings_days=2, templates_days=2, alerts_days=2).policy()
        self.alive: dict[int, ItemRef] = {}
        self.deleted: set[int] = set()
        self.holds: list[Hold] = []
        self.kill_after_files: int | None = None
        self.dirty = False
        """A purge was killed after its commit: files may be waiting for the next purge."""

    def teardown(self) -> None:
        self.rt.close()
        self.database.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def store(self) -> HoldService:
        removed = 0

        def remove(kind: str, path: str) -> bool:
            nonlocal removed
            if self.kill_after_files is not None and removed >= self.kill_after_files:
                raise Killed
            removed += 1
            return self.rt._remove_file(kind, path)

        return HoldService(
            self.rt.database,
            policy=self.policy,
            clock=self.clock,
            audit=self.rt._audit_as,
            remove_file=remove,
            cameras=lambda: CAMERAS,
            # windows reach back past the data kept: this machine checks the purge, not the bounds
            bounds=HoldBounds(past_slack_days=30),
        )

    @rule(camera=st.sampled_from(CAMERAS), age_h=st.integers(0, 120))
    def ingest(self, camera: str, age_h: int) -> None:
        start = self.clock.now - age_h * H
        saved = self.rt.sightings.add_sighting(sighting(camera_id=camera, start=start, duration_s=60))
        self.alive[saved.sighting_id] = ItemRef(
            "sighting", saved.sighting_id, camera, Window(start, start + timedelta(seconds=60))
        )

    @rule(
        camera=st.sampled_from(CAMERAS),
        back_h=st.integers(0, 120),
        span_h=st.integers(1, 48),
        ttl_h=st.none() | st.integers(1, 200),
    )
    def hold_window(self, camera: str, back_h: int, span_h: int, ttl_h: int | None) -> None:
        start = self.clock.now - back_h * H
        window = Window(start, start + span_h * H)
        expires = None if ttl_h is None else self.clock.now + ttl_h * H
        info = self.store().place_hold(
            NewHold("C", "case", "police", cameras=[camera], window=window, expires_at=expires), by=ANN
        )
        self.holds.append(info.hold)

    @precondition(lambda self: bool(self.alive))
    @rule(data=st.data())
    def hold_item(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(sorted(self.alive)))
        info = self.store().place_hold(NewHold("R", "request", "subject", items=[("sighting", item)]), by=ANN)
        self.holds.append(info.hold)

    @precondition(lambda self: any(h.in_force(self.clock.now) for h in self.holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        active = [h for h in self.holds if h.in_force(self.clock.now)]
        hold = data.draw(st.sampled_from(active))
        self.store().release_hold(hold.id, "no longer needed", by=ANN)
        self.holds = [h for h in self.holds if h.id != hold.id] + [
            Hold(
                hold.id,
                hold.reference,
                hold.cameras,
                hold.window,
                hold.items,
                hold.expires_at,
                self.clock.now,
            )
        ]

    @rule(hours=st.integers(1, 72))
    def advance(self, hours: int) -> None:
        self.clock.now += hours * H

    @rule()
    def purge(self) -> None:
        self._purge()

    @rule(after_files=st.integers(0, 3))
    def purge_killed_after_commit(self, after_files: int) -> None:
        self.kill_after_files = after_files
        try:
            self._purge()
        except Killed:
            self.dirty = True
            # the rows went with the commit; only the files wait for the next purge
            gone = set(self.alive) - self._rows()
            self.deleted |= gone
            for i in gone:
                del self.alive[i]
        finally:
            self.kill_after_files = None

    @rule()
    def purge_killed_before_commit(self) -> None:
        before = self._rows()
        store = self.store()

        def killed(*_args: object) -> None:
            raise Killed

        store.purger._delete = killed  # type: ignore[method-assign]
        with contextlib.suppress(Killed):
            store.purger.purge(by=SYSTEM)
        assert self._rows() == before  # the transaction never committed

    def _purge(self) -> None:
        now = self.clock.now
        due = {
            i
            for i, ref in self.alive.items()
            if ref.span.start is not None and ref.span.start < self.policy.cutoff(DataClass.SIGHTINGS, now)
        }
        keep = {i for i, ref in self.alive.items() if held(ref, self.holds, now)}
        orphans = lambda: self.rt.sightings.clean_orphan_crops(older_than_s=0)  # noqa: E731
        self.store().purger.purge(by=SYSTEM, orphans=orphans)
        rows = self._rows()
        assert keep <= rows, f"held sightings deleted: {sorted(keep - rows)}"
        assert not ((due - keep) & rows), f"expired, unheld sightings survived: {sorted((due - keep) & rows)}"
        gone = set(self.alive) - rows
        self.deleted |= gone
        for i in gone:
            del self.alive[i]
        self.dirty = False  # what a killed purge left behind was cleaned first

    def _rows(self) -> set[int]:
        return {s.id for s in self.rt.sightings.list_sightings(limit=10_000)}

    @invariant()
    def every_deletion_has_a_receipt(self) -> None:
        in_receipts = {
            i
            for r in self.rt.purger.receipts(limit=10_000)
            if r.kind == "purge"
            for i in r.details["ids"]["sightings"]
        }
        assert self.deleted <= in_receipts

    @invariant()
    def no_orphan_file_once_a_purge_completed(self) -> None:
        if self.dirty:
            return
        crops = {p.name for p in (self.tmp / "data/blobs/crops").rglob("*.jpg")}
        rows = {Path(s.crop_path).name for s in self.rt.sightings.list_sightings(limit=10_000)}
        assert crops == rows


RetentionMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestRetention = RetentionMachine.TestCase
