"""The layers hold: ``processors/`` is pure (no I/O, no clock, no import of ``streams/`` or
``connectors/``) and ``connectors/`` is independent of ``streams/``, checked three ways.

* ``lint-imports`` runs the contracts of ``[tool.importlinter]`` in pyproject.toml over the real
  import graph (indirect and function-local imports included);
* a scan of the syntax tree of every module under ``processors/`` finds the calls that do I/O or
  read a clock or the environment even without an import of a forbidden package (``open(...)``,
  ``path.read_text()``, ``datetime.now()``, ``os.environ`` ...). What is truly needed is listed in
  :data:`ALLOWED` with the reason;
* a scan of ``streams/``, ``connectors/`` and ``processors/`` finds imports of our own packages
  inside a function, the usual way to dodge an import cycle that the layering should have removed.
  One is allowed only where its line says why with a ``# lazy: <reason>`` comment (the CLI's
  start-up time, say).
"""

from __future__ import annotations

import ast
import re
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
    ("processors/audit/chain.py", "uuid.uuid4"): (
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
    independent = next(c for c in contracts if c["id"] == "connectors-independent-of-streams")
    assert independent["source_modules"] == ["connectors"] and independent["forbidden_modules"] == ["streams"]

    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and f"{len(contracts)} kept" in result.stdout


# -- no function-local import of our own packages dodges a cycle ---------------------------------

#: The repository's own top-level packages.
FIRST_PARTY = frozenset({"processors", "streams", "connectors", "schemas"})
#: The packages whose modules are scanned for function-local imports.
SCANNED_PACKAGES = ("streams", "connectors", "processors")
#: A function-local import is allowed when its (first) line carries this mark and a reason.
LAZY_MARK = re.compile(r"#\s*lazy:\s*\S")
#: Files that other work in progress is cleaning up (settings tree, Kafka application layer) at
#: the same time as this test was written; paths ending in "/" cover a folder. The lead empties
#: this list when merging those branches: after that, every file is checked.
NOT_YET_CHECKED: tuple[str, ...] = ()


def _function_local_imports(path: Path) -> list[str]:
    """``<line>: <import>`` for each import of a first-party package (or relative import) inside a
    function or lambda of ``path`` whose line has no ``# lazy:`` reason."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[str] = []

    def first_party(node: ast.Import | ast.ImportFrom) -> bool:
        if isinstance(node, ast.ImportFrom):
            return node.level > 0 or (node.module or "").split(".")[0] in FIRST_PARTY
        return any(alias.name.split(".")[0] in FIRST_PARTY for alias in node.names)

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if (in_function and isinstance(child, (ast.Import, ast.ImportFrom)) and first_party(child)
                    and not LAZY_MARK.search(lines[child.lineno - 1])):
                found.append(f"{child.lineno}: {lines[child.lineno - 1].strip()}")
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source, filename=str(path)), False)
    return found


def _checked_modules(repo_root: Path) -> list[Path]:
    modules = [path for package in SCANNED_PACKAGES for path in sorted((repo_root / package).rglob("*.py"))]
    return [path for path in modules
            if not any(str(path.relative_to(repo_root)).startswith(entry) if entry.endswith("/")
                       else str(path.relative_to(repo_root)) == entry for entry in NOT_YET_CHECKED)]


def test_no_function_local_import_of_our_own_packages_dodges_a_cycle(repo_root: Path) -> None:
    problems = [f"{path.relative_to(repo_root)}:{finding}"
                for path in _checked_modules(repo_root) for finding in _function_local_imports(path)]
    assert problems == [], (
        "import these at module level (fix the layering if that makes a cycle), or say why the import must "
        "be lazy with a '# lazy: <reason>' comment on its line")


def test_the_checked_modules_include_all_three_layers(repo_root: Path) -> None:
    checked = {str(path.relative_to(repo_root)) for path in _checked_modules(repo_root)}
    assert {"connectors/ports.py", "connectors/prisma/webhook.py", "processors/pipeline.py",
            "streams/chat.py", "streams/siem.py"} <= checked


@pytest.mark.parametrize(("source", "found"), [
    ("def f():\n    from streams.run import WorkerSettings\n", True),
    ("async def f():\n    import connectors.jira.client\n", True),
    ("class C:\n    def m(self):\n        from processors.models import RiskTier\n", True),
    ("def f():\n    def g():\n        from . import sibling\n", True),
    ("def f():\n    from streams.run import (  # lazy:\n        WorkerSettings)\n", True),
    ("def f():\n    from streams.cli import main  # lazy: keeps `prismaflow --help` fast\n", False),
    ("def f():\n    from confluent_kafka import Producer\n", False),
    ("from streams.run import WorkerSettings\n\ndef f():\n    return WorkerSettings\n", False),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from streams.run import WorkerSettings\n", False),
])
def test_the_function_local_scan_finds_what_it_looks_for(source: str, found: bool, tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(source)
    assert bool(_function_local_imports(module)) is found


# -- small modules with one job -----------------------------------------------------------------

MAX_MODULE_LINES = 400


def test_no_module_of_the_packages_is_over_400_lines(repo_root: Path) -> None:
    """A module that grows past ~400 lines is doing more than one job: split it by job."""
    too_long = {str(path.relative_to(repo_root)): lines
                for package in sorted(FIRST_PARTY)
                for path in sorted((repo_root / package).rglob("*.py"))
                if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}


# -- the README's drawing of the layers names what exists -----------------------------------------

_TOP_LEVEL = ("streams/", "connectors/", "processors/", "schemas/", "deploy/", "docs/")
_PATH_TOKEN = re.compile(r"(?<![\w/.<])([\w-]+(?:/[\w.-]*)*(?:\.py|/))(?![\w])")


def _named_paths(section: str) -> set[str]:
    """Every file or folder the section names: whole paths anywhere, and inside the drawing of the
    layers also bare names (``worker.py``, ``config/``) under the package whose block they are in."""
    named = set()
    package = ""
    for line in section.splitlines():
        top = line.lstrip()
        if line.startswith(" ") and not line.startswith("  ") and top.startswith(_TOP_LEVEL):
            package = top.split("/", 1)[0] + "/"
        for token in _PATH_TOKEN.findall(line):
            if "<" in token or token.startswith(("http", "prisma.")):
                continue
            if token.startswith(_TOP_LEVEL):
                named.add(token)
            elif package and "```" not in line:
                named.add(package + token)
    return named


def test_every_path_the_readme_architecture_names_exists(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Architecture"):readme.index("### Topics")]
    drawing = section[section.index("```\n streams/"):]
    drawing = drawing[:drawing.index("```", 4)]
    named = _named_paths(drawing) | {p for p in _named_paths(section) if p.startswith(_TOP_LEVEL)}
    assert len(named) >= 25, f"the drawing of the layers names the modules of each layer, found {sorted(named)}"
    assert sorted(path for path in named if not (repo_root / path).exists()) == []
