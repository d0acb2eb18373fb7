"""The simulated city's records: a PostgreSQL database of its own, its configuration file (the
cameras, real and virtual), and what a city holds before it watches: people enrolled from
real photos and a gallery filled to size, one approved authorisation for every camera, and an
operator whose live feed the simulation reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from citywatch.bench.authorised import authorise_benchmark
from citywatch.bench.progress import Progress, quiet
from citywatch.domain.audit import Actor
from citywatch.domain.records import NewReference
from citywatch.media.images import encode_jpeg
from citywatch.pipeline.virtual import SCHEME
from citywatch.runtime.build import Runtime
from citywatch.sim.probes import Faces
from citywatch.watchlists.enrolment import Enrolment

OPERATOR = "sim-operator"
WATCHLIST = "sim-wanted"
FILLER = "sim-gallery"
FILLER_PER_PERSON = 5
REAL_DETECT_FPS = 5.0
LIN = ("Lin-Manuel Miranda", "face_recognition/examples/lin-manuel-miranda.png")
"""Who the real cameras' clip shows, enrolled so that the real pipeline raises alerts too."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The cameras of the simulated city."""

    real: int = 4
    virtual: int = 1000
    investigate_every: int = 10
    """Every n-th virtual camera is in investigate mode (every face kept), the rest watchlist."""

    def camera_ids(self) -> list[str]:
        return [f"real-{i}" for i in range(self.real)] + [f"virtual-{i:05d}" for i in range(self.virtual)]


@contextmanager
def own_database(server: str) -> Iterator[str]:
    """A new database on `server` (a SQLAlchemy URL without a database name), its URL;
    dropped afterwards."""
    url = make_url(server)
    name = f"citywatch_sim_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def write_config(
    path: Path, layout: Layout, *, database_url: str, bus: str, port: int, models_dir: Path, clip: Path
) -> Path:
    """The configuration every process of the simulated city reads."""
    cameras: list[dict[str, Any]] = [  # detecting 5 times a second, as `citywatch bench live`
        {
            "id": c,
            "url": str(clip),
            "mode": "watchlist",
            "source": {"replay": True, "detect_fps": REAL_DETECT_FPS},
        }
        for c in layout.camera_ids()[: layout.real]
    ]
    for i, camera in enumerate(layout.camera_ids()[layout.real :]):
        mode = "investigate" if i % layout.investigate_every == 0 else "watchlist"
        cameras.append({"id": camera, "url": f"{SCHEME}sim", "mode": mode})
    settings = {
        "data_dir": str(path.parent / "data"),
        "models_dir": str(models_dir),
        "database_url": database_url,
        "bus": bus,
        "recording": {"enabled": False},
        "alerts": {"cooldown_s": 0},
        "api": {"enabled": True, "host": "127.0.0.1", "port": port},
        "cameras": cameras,
    }
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


@dataclass(frozen=True, slots=True)
class Populated:
    token: str
    """The operator's API token (the live feed the simulation reads)."""
    authorisation: str
    """The reference of the authorisation every camera runs under."""


def populate(
    rt: Runtime, faces: Faces, layout: Layout, *, data: Path, gallery: int, progress: Progress = quiet
) -> Populated:
    """Enrol, fill the gallery to `gallery` templates, authorise every camera."""
    enrolment = Enrolment(
        store=rt.watchlists, detector=rt.detector, embedder=rt.embedder, quality=rt.settings.quality
    )
    people = [*((e.name, e.photo) for e in faces.enrollees), (LIN[0], data / LIN[1])]
    for i, (name, photo) in enumerate(people, start=1):
        progress("enrolling people from their photos", i, len(people))
        enrolment.enroll(
            name=name,
            images=[photo],
            watchlist=WATCHLIST,
            source="shared data",
            legal_basis="simulation",
            proposer=None,  # a throwaway city: nothing to approve
        )
    _fill_gallery(rt, max(0, gallery - len(people)), progress)
    reference = authorise_benchmark(rt, layout.camera_ids())  # every camera, every watchlist
    rt.users.add_user(OPERATOR, "operator")
    token = rt.users.issue_token(OPERATOR, "simulation", by=Actor(OPERATOR, "operator")).token
    return Populated(token, reference)


def _fill_gallery(rt: Runtime, templates: int, progress: Progress) -> None:
    """`templates` more templates, FILLER_PER_PERSON per made-up person: random directions far
    from any real face (so they change the cost of matching, not its answers)."""
    if templates == 0:
        return
    rt.watchlists.ensure_watchlist(FILLER)
    rng = np.random.default_rng(7)
    image = encode_jpeg(np.full((32, 32, 3), 128, np.uint8))
    dim, model = rt.embedder.dim, rt.embedder.name
    persons = -(-templates // FILLER_PER_PERSON)
    for p in range(persons):
        if p % 50 == 0 or p == persons - 1:
            progress("filling the gallery", min(templates, (p + 1) * FILLER_PER_PERSON), templates)
        vectors = rng.normal(0.0, 1.0 / np.sqrt(dim), (FILLER_PER_PERSON, dim)).astype(np.float32)
        references = [NewReference(image, ".jpg", "simulation", "simulated city", model, v) for v in vectors]
        rt.watchlists.enroll(references, watchlist_name=FILLER, display_name=f"Simulated person {p:05d}")
