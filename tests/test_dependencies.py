"""The declared dependencies are what the code imports: runtime apart from the development tools.

Walks every import of the runtime packages (``streams`` without ``streams/devtools``,
``connectors``, ``processors``, ``schemas``; imports under ``if TYPE_CHECKING:`` do not run and do
not count), maps each third-party module to the distribution that installs it, and compares that
set with ``[project] dependencies``; then checks that ``streams/devtools`` needs nothing beyond the
runtime and its ``bench``/``dev`` extras, and that the ``test`` extra pulls the ``dev`` one in.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("streams", "connectors", "processors", "schemas")
DEVTOOLS = ROOT / "streams" / "devtools"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalise(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])


def _runs(node: ast.AST) -> bool:
    return not (isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING")


def _imported_modules(tree: ast.AST) -> set[str]:
    """Top-level module names imported anywhere in ``tree``, outside ``if TYPE_CHECKING:``."""
    found: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        pending.extend(child for child in ast.iter_child_nodes(node) if _runs(child))
    return found


def _third_party_distributions(files: list[Path]) -> dict[str, set[str]]:
    """Distribution name -> the files importing it, for every third-party import of ``files``."""
    ours = {*RUNTIME, "tests"}
    installs = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in files:
        for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            if module in ours or module in sys.stdlib_module_names:
                continue
            assert module in installs, f"{path}: imports {module}, which no installed distribution provides"
            for distribution in installs[module]:
                found.setdefault(_normalise(distribution), set()).add(str(path.relative_to(ROOT)))
    return found


def _runtime_files() -> list[Path]:
    return [p for package in RUNTIME for p in (ROOT / package).rglob("*.py")
            if DEVTOOLS not in p.parents]


def _extra(name: str) -> set[str]:
    return {_requirement_name(r) for r in PROJECT["optional-dependencies"][name]}


def test_the_walker_sees_imports_in_functions_and_skips_type_checking_blocks() -> None:
    tree = ast.parse("import a.b\nfrom c import d\nif TYPE_CHECKING:\n    import e\n"
                     "def f():\n    import g\n    from .h import i\n")
    assert _imported_modules(tree) == {"a", "c", "g"}


def test_runtime_dependencies_are_exactly_what_the_runtime_imports() -> None:
    imported = _third_party_distributions(_runtime_files())
    declared = {_requirement_name(r) for r in PROJECT["dependencies"]}
    assert set(imported) - declared == set(), {d: imported[d] for d in set(imported) - declared}
    assert declared - set(imported) == set(), "declared but no runtime module imports it"


def test_the_development_tools_need_only_the_runtime_and_their_extras() -> None:
    imported = _third_party_distributions(sorted(DEVTOOLS.rglob("*.py")))
    runtime = {_requirement_name(r) for r in PROJECT["dependencies"]}
    extras = _extra("bench") | (_extra("dev") - {"prismaflow"})
    assert set(imported) - runtime - extras == set()
    assert extras <= set(imported), "an extra the development tools do not import"
    assert "psutil" not in runtime  # faust-streaming is runtime since the approval service (issue 13)


def test_the_test_extra_installs_the_development_tools_and_dev_the_bench() -> None:
    assert "prismaflow[dev]" in PROJECT["optional-dependencies"]["test"]
    assert "prismaflow[bench]" in PROJECT["optional-dependencies"]["dev"]
