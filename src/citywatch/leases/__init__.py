"""Leases on cameras and singleton jobs, behind `citywatch.domain.leases.LeaseStore`: in this
process (`embedded`, one process tree on one machine: the default) or in a NATS KV bucket
(`nats_kv`, a city of processes and machines), as the `bus` setting chooses (`connect`); the
thread that keeps a process's leases and tells it at once when one is lost (`keeper`); jobs
that run in one process at a time (`singleton`). No lease store of ours: NATS's KV bucket is
the engine."""
