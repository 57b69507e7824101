"""The house rules a maintainer relies on, checked on the code itself (issue 17).

The arrows run downward (nothing in `tasks/` or `catalog/` imports `flows`), `tasks/` keeps its
families in packages, modules stay short and functions shorter, and the wheel installs one
package, `spokesync`, never a top-level `tasks`, `flows` or `catalog`.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("catalog", "tasks", "flows", "spokesync")
MAX_LINES, MAX_FUNCTION, MAX_TASK_MODULES = 300, 40, 12


def product_modules() -> list[Path]:
    return sorted(p for top in PRODUCT for p in (ROOT / top).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_below_flows_imports_flows() -> None:
    upward = [
        f"{path.relative_to(ROOT)} imports {name}"
        for top in ("tasks", "catalog")
        for path in (ROOT / top).rglob("*.py")
        for name in imported(path)
        if name.split(".")[0] == "flows" or name.startswith("spokesync.flows")
    ]
    assert upward == []


def test_product_code_imports_through_the_one_namespace() -> None:
    """Product code says `spokesync.tasks…`; a bare `tasks…` import would work in a checkout
    only, and the simulator and tests are not shipped (only the demo, which needs a checkout and
    says so, uses the simulator)."""
    bare = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in product_modules()
        for name in imported(path)
        if name.split(".")[0] in ("tasks", "flows", "catalog", "simulator", "tests", "bench")
        and not (name.startswith("simulator") and path.name.startswith("demo"))
    ]
    assert bare == []


def test_tasks_keeps_its_families_in_packages() -> None:
    top = sorted(p.name for p in (ROOT / "tasks").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_TASK_MODULES, top


def test_no_product_module_over_300_lines_and_no_function_over_40() -> None:
    long_files = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in product_modules()
        if (n := p.read_text().count("\n")) > MAX_LINES
    ]
    long_functions = [
        f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines"
        for p in product_modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION
    ]
    assert long_files == [] and long_functions == []


def _uv() -> list[str]:
    if found := os.environ.get("UV") or shutil.which("uv"):
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    pytest.fail("uv is needed to build the wheel: `make setup` installs it")


def test_the_wheel_installs_only_spokesync_and_works_from_it(tmp_path: Path) -> None:
    built = subprocess.run(
        [*_uv(), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        tops = {name.split("/")[0] for name in z.namelist()}
        z.extractall(site)
    assert {t for t in tops if not t.endswith(".dist-info")} == {"spokesync"}
    assert (site / "spokesync" / "catalog" / "sql" / "0001_schema.sql").is_file()
    probe = (  # the checkout leaves sys.path first: only the unpacked wheel supplies spokesync
        "import sys\n"
        "sys.path[:] = [p for p in sys.path if p.rstrip('/') != sys.argv[3]]\n"
        "import spokesync.flows.cli.main, spokesync.catalog as c\n"
        "assert c.__file__.startswith(sys.argv[1]), c.__file__\n"
        "with c.open_catalog(sys.argv[2]) as con:\n"
        "    con.execute('select count(*) from instances').fetchone()\n"
        "bare = [m for m in sys.modules if m.split('.')[0] in ('tasks', 'flows', 'catalog')]\n"
        "assert not bare, bare\n"
        "from typer.testing import CliRunner\n"
        "ran = CliRunner().invoke(spokesync.flows.cli.main.app, ['demo', '--data-dir', 'd'])\n"
        "assert ran.exit_code == 2 and 'make demo' in ran.output, ran.output\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    ran = subprocess.run(
        [sys.executable, "-c", probe, str(site), str(tmp_path / "c.duckdb"), str(ROOT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
