"""A store with an audit log and the two-person services, acting for named people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from citywatch.alerts.review import AlertReviews
from citywatch.audit.chain import AuditEntry
from citywatch.audit.log import AuditLog
from citywatch.changes.service import ChangeService
from citywatch.domain.audit import Actor, AuditEvent
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import Database, open_database
from tests.fakes.stores import Stores
from tests.store.helpers import db_url

ANN = Actor("ann", "supervisor")
"""Who the Stores acts for (the runtime's actor): proposes changes."""
BOB = Actor("bob", "supervisor")
OLA = Actor("ola", "operator")
BOT = Actor("bot", "supervisor", service=True)


@dataclass
class TwoPersonEnv:
    db: Database
    log: AuditLog
    store: Stores
    changes: ChangeService
    alerts: AlertReviews

    def records(self, action: str | None = None) -> list[AuditEntry]:
        return [e for e in self.log.entries() if action is None or e.action == action]

    def close(self) -> None:
        self.store.close()


def two_person_env(root: Path) -> TwoPersonEnv:
    db = open_database(db_url(root / "db" / "citywatch.db"))
    blobs = LocalBlobStore(root / "blobs")
    log = AuditLog(db, Ed25519PrivateKey.generate())

    def audit_as(session: Session, actor: Actor, event: AuditEvent) -> None:
        log.append(
            session,
            actor=actor.name,
            role=actor.role,
            action=event.action,
            object=event.object,
            params=event.params,
            result_count=event.result_count,
        )

    return TwoPersonEnv(
        db=db,
        log=log,
        store=Stores(db, blobs, audit=lambda s, e: audit_as(s, ANN, e)),
        changes=ChangeService(db, blobs, audit=audit_as),
        alerts=AlertReviews(db, audit=audit_as),
    )
