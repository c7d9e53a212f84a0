"""The layers hold: ``processors/`` is pure (no I/O, no clock, no import of ``streams/`` or
``connectors/``), checked two ways.

* ``lint-imports`` runs the contracts of ``[tool.importlinter]`` in pyproject.toml over the real
  import graph (indirect and function-local imports included);
* a scan of the syntax tree of every module under ``processors/`` finds the calls that do I/O or
  read a clock or the environment even without an import of a forbidden package (``open(...)``,
  ``path.read_text()``, ``datetime.now()``, ``os.environ`` ...). What is truly needed is listed in
  :data:`ALLOWED` with the reason.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

#: Modules whose import alone means I/O, a clock, concurrency or the environment.
FORBIDDEN_IMPORTS = frozenset({
    "asyncio", "confluent_kafka", "http", "httpx", "httpx2", "openai", "os", "pathlib", "prometheus_client",
    "random", "requests", "shutil", "socket", "subprocess", "tempfile", "threading", "time", "urllib.request",
})
#: Methods that read or write files or folders, whoever the receiver.
FILE_METHODS = frozenset({
    "read_text", "read_bytes", "write_text", "write_bytes", "open", "glob", "rglob", "iterdir", "mkdir",
    "unlink", "rmdir", "touch", "exists", "is_file", "is_dir",
})
#: ``<name>.<attr>`` pairs that read the wall clock, randomness or the environment.
FORBIDDEN_ATTRIBUTES = frozenset({
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
    ("os", "environ"), ("os", "getenv"), ("uuid", "uuid1"), ("uuid", "uuid4"),
})
#: (path relative to the repository, finding) -> why it is allowed.
ALLOWED: dict[tuple[str, str], str] = {
    ("processors/audit.py", "uuid.uuid4"): (
        "the default id of a new audit record: unique, not derived from content, never read back as data;"
        " AuditChain(id_factory=...) replaces it in tests"),
}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name in FORBIDDEN_IMPORTS or a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if node.module in FORBIDDEN_IMPORTS or top in FORBIDDEN_IMPORTS or top in ("streams", "connectors"):
                found.append(f"from {node.module} import")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append("open()")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FILE_METHODS:
            found.append(f".{node.func.attr}()")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def _processor_modules(repo_root: Path) -> list[Path]:
    return sorted((repo_root / "processors").rglob("*.py"))


def test_no_module_of_processors_does_io_reads_a_clock_or_imports_streams_or_connectors(repo_root: Path) -> None:
    problems = [f"{path.relative_to(repo_root)}:{finding}"
                for path in _processor_modules(repo_root) for finding in _findings(path)
                if (str(path.relative_to(repo_root)), finding) not in ALLOWED]
    assert problems == [], "processors/ must stay pure; move the I/O to streams/ or connectors/"


def test_every_allowlisted_exception_is_still_needed(repo_root: Path) -> None:
    present = {(str(p.relative_to(repo_root)), f) for p in _processor_modules(repo_root) for f in _findings(p)}
    assert set(ALLOWED) <= present, "drop allowlist entries whose code is gone"


@pytest.mark.parametrize("source", [
    "with open('x') as f: pass",
    "from pathlib import Path",
    "text = policy_path.read_text()",
    "from datetime import datetime\nnow = datetime.now()",
    "import os\nkey = os.environ['K']",
    "from streams.errors import BrokerError",
    "from connectors.llm.client import LlmClient",
    "import prometheus_client",
])
def test_the_scan_finds_what_it_looks_for(source: str, tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(source)
    assert _findings(module)


def test_the_import_contracts_hold(repo_root: Path) -> None:
    contracts = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    pure = next(c for c in contracts if c["id"] == "processors-pure")
    assert pure["source_modules"] == ["processors"] and {"streams", "connectors"} <= set(pure["forbidden_modules"])

    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
