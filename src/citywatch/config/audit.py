"""Where the audit log's witness (signed chain heads outside the database) is written."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from citywatch.config.base import Section


class AuditSettings(Section):
    witness_path: Path | None = Field(
        None,
        description="The append-only file of signed audit chain heads that `audit verify` checks the "
        "database against (truncation, emptying, a rewritten tail). Empty: "
        "<data_dir>/audit-witness.jsonl. Point it at another disk or mount (an append-only or "
        "remote one at best) so that whoever can edit the database cannot also edit it; relative "
        "paths are relative to the config file.",
    )
    witness_fsync: bool = Field(
        True,
        description="fsync each witness line before the committing call returns (one small append "
        "per commit that wrote audit records). Off: a power cut may lose the newest lines, which "
        "leaves the newest records unwitnessed until the next commit, never a false alarm.",
    )
