"""``python -m streams.devtools.bench``: the benchmark, or one of its child processes."""

from __future__ import annotations

from streams.devtools.bench.cli import main

raise SystemExit(main())
