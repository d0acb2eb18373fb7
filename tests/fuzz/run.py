"""Run one fuzz target under atheris (libFuzzer): `python -m tests.fuzz.run NAME [flags]`.

The seeds are written to a fresh corpus folder (or to the one given with `--corpus DIR`,
which keeps what the fuzzer finds between runs). Any libFuzzer flag passes through, e.g.
`-max_total_time=3600 -rss_limit_mb=2048 -timeout=10 -artifact_prefix=var/fuzz/`.
`--replay FILE…` runs saved inputs (a finding) once each, with the full traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["citywatch", "multipart", "python_multipart", "PIL"]):
    pass

from tests.fuzz.targets import TARGETS


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--corpus", type=Path, help="corpus folder to read and grow (default: a new one)")
    parser.add_argument("--replay", type=Path, nargs="+", help="run these inputs once each, with tracebacks")
    args, flags = parser.parse_known_args(argv)
    target = TARGETS[args.target]
    if args.replay:
        for path in args.replay:
            target.target(path.read_bytes())
        return
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"citywatch-fuzz-{target.name}-"))
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(target.seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *flags, str(corpus)], target.target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
