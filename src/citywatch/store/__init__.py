"""Where citywatch keeps things, and nothing more: the database engine (SQLite in WAL mode by
default, SQLAlchemy 2, Alembic migrations), its tables and queries, and the files (blobs)
written before the rows that name them. No rules and no permission checks live here: the
feature packages (watchlists, sightings, alerts, governance, retention, requests, orders,
users, audit) decide, and hand out records from `citywatch.domain.records`, never ORM rows."""
