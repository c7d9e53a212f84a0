"""``python -m streams.bench``: the benchmark, or one of its child processes."""

from __future__ import annotations

from streams.bench.cli import main

raise SystemExit(main())
