"""What each shipped package may import, read from the source (AST), so a stray import fails here and
not in the production image, which holds plugins/ and dags/ but no devtools/ or tests/."""

from __future__ import annotations

import ast
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "plugins"
DEV_ONLY = ("devtools", "tests")

# package -> top-level names it must never import; (module file, name) pairs that are allowed anyway
FORBIDDEN = {
    "konektor_capi": {"airflow", "konektor_capi_airflow", "konektor_capi_cli", *DEV_ONLY},
    "konektor_capi_airflow": {"konektor_capi_cli", *DEV_ONLY},
    "konektor_capi_cli": {"airflow", "konektor_capi_airflow", *DEV_ONLY},
    # the health page runs in Airflow's API server: Airflow's auth and the konektor_db connection
    "konektor_capi_health": {"konektor_capi_cli", *DEV_ONLY},
}
ALLOWED = {
    ("konektor_capi_cli/airflow_process.py", "airflow"),  # the Airflow CLI started in a child process
    ("konektor_capi_cli/check_pixels.py", "konektor_capi_airflow"),  # the meta_capi connection via the hook
}


def imported_names(source: str) -> set[str]:
    """Top-level names of every absolute import, at any depth (inside functions too), and of
    importlib.import_module / __import__ calls with a constant name."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((PLUGINS / package).rglob("*.py")):
        relative = path.relative_to(PLUGINS).as_posix()
        for name in imported_names(path.read_text()) & FORBIDDEN[package]:
            if (relative, name) not in ALLOWED:
                found.append(f"{relative} imports {name}")
    return found


def test_every_shipped_package_is_covered():
    packages = {p.parent.name for p in PLUGINS.glob("*/__init__.py")}
    assert packages == set(FORBIDDEN)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_shipped_package_imports_only_what_its_layer_may(package):
    assert violations(package) == []


def test_the_dag_files_import_nothing_from_the_dev_tools():
    for path in (REPO / "dags").glob("*.py"):
        assert not imported_names(path.read_text()) & set(DEV_ONLY), path.name


@pytest.mark.parametrize(
    "source, name",
    [
        ("import devtools.stack", "devtools"),
        ("from devtools import stack", "devtools"),
        ("def f():\n    from airflow.sdk import BaseHook", "airflow"),
        ("import importlib\nimportlib.import_module('devtools.bench')", "devtools"),
        ("__import__('tests.factory')", "tests"),
    ],
)
def test_the_checker_sees_every_form_of_import(source, name):
    assert name in imported_names(source)


def test_relative_imports_stay_inside_their_package():
    assert imported_names("from . import sql\nfrom .sql import load") == set()


def test_the_console_script_points_at_a_callable_of_a_shipped_package():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["konektor-capi"].partition(":")
    assert module.split(".")[0] in FORBIDDEN
    assert callable(getattr(import_module(module), attr))
