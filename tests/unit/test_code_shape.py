"""The product's Python keeps the shape issue 13 gave it, so it does not drift back.

- No function in `pipelines/` is longer than 60 lines (from `def` to its last line,
  docstring included): a longer one is doing more than one job (STYLE.md, dlt's lines).
- No handler swallows everything: `except Exception: pass` (or a bare `except:` /
  `except BaseException:` whose body is only `pass`) hides bugs; handlers name the
  exception classes they mean to ignore, with a comment saying why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "pipelines"
MAX_LINES = 60


def _modules() -> list[Path]:
    return sorted(PIPELINES.rglob("*.py"))


def long_functions(path: Path, root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > limit
    ]


def swallowing_handlers(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ExceptHandler):
            continue
        broad = node.type is None or (
            isinstance(node.type, ast.Name) and node.type.id in ("Exception", "BaseException")
        )
        if broad and all(isinstance(stmt, ast.Pass) for stmt in node.body):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_function_in_pipelines_is_longer_than_60_lines():
    offenders = [line for path in _modules() for line in long_functions(path)]
    assert not offenders, "split these into parts with one job each:\n" + "\n".join(offenders)


def test_no_handler_swallows_every_exception():
    offenders = [line for path in _modules() for line in swallowing_handlers(path)]
    assert not offenders, "name the exception classes to ignore:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("source", "long", "swallows"),
    [
        ("def f():\n" + "    x = 1\n" * 60, ["f (61 lines)"], []),
        ("def f():\n" + "    x = 1\n" * 59, [], []),
        ("try:\n    f()\nexcept Exception:\n    pass\n", [], [3]),
        ("try:\n    f()\nexcept:\n    pass\n", [], [3]),
        ("try:\n    f()\nexcept OSError:\n    pass  # gone already\n", [], []),
        ("try:\n    f()\nexcept Exception:\n    log()\n", [], []),
    ],
)
def test_the_scans_find_what_they_should(tmp_path, source, long, swallows):
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [line.split(" ", 1)[1] for line in long_functions(path, tmp_path)] == long
    assert [int(line.rsplit(":", 1)[1]) for line in swallowing_handlers(path, tmp_path)] == swallows
