"""One contract, imported, never copied: who may import whom, checked on the source text.

- `models/` (the source contract) imports neither `seeds` nor `pipelines`;
- `seeds/` (the demo seeder) imports `models` and third-party packages, never `pipelines`;
- `pipelines/` (the product) imports `models`, and `seeds` only in `pipelines/cli.py`: the
  command line is the seeder's one caller (`mealytics source …`, `mealytics demo`);
- no module but `models/enums.py` spells out one of its choice sets by hand.

Every .py file is parsed with `ast`, so imports inside functions count as much as those at
the top, and `importlib.import_module("…")` / `__import__("…")` with a literal name too. A
failure names each offending file:line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.enums import ENUMS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "seeds", "pipelines")

#: package -> the other packages of ours it must not import.
FORBIDDEN = {
    "models": {"seeds", "pipelines"},
    "seeds": {"pipelines"},
    "pipelines": {"seeds"},
}
#: (file, imported package) pairs that are allowed despite FORBIDDEN.
ALLOWED = {("pipelines/cli.py", "seeds")}


def imported_modules(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `tree`, at any depth.

    A relative import is resolved against `package` (the file's own top-level package),
    which is all the boundary needs to know about it.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, package + ("." + node.module if node.module else "")
            else:
                yield node.lineno, node.module or ""
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def boundary_breaks(root: Path = ROOT) -> list[str]:
    """Every import across a boundary, as 'file:line: package imports module'."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            for line, module in imported_modules(tree, package):
                target = module.split(".")[0]
                if target in FORBIDDEN[package] and (relative, target) not in ALLOWED:
                    found.append(f"{relative}:{line}: {package} imports {module}")
    return found


def hand_copied_enums(root: Path = ROOT) -> list[str]:
    """Literal tuples, lists or sets of strings equal (as a set) to a contract enum."""
    enums = {frozenset(values): name for name, values in ENUMS.items()}
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative == "models/enums.py":
                continue  # the one place they are written
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) or not node.elts:
                    continue
                if not all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
                ):
                    continue
                name = enums.get(frozenset(e.value for e in node.elts))
                if name:
                    found.append(f"{relative}:{node.lineno}: a copy of models.enums.{name}")
    return found


def test_no_import_crosses_a_boundary():
    breaks = boundary_breaks()
    assert not breaks, "imports across the contract's boundaries:\n" + "\n".join(breaks)


def test_the_command_line_is_the_seeders_caller():
    """The one allowed crossing is real: if the CLI stopped calling the seeder, say so here."""
    tree = ast.parse((ROOT / "pipelines/cli.py").read_text(encoding="utf-8"))
    assert any(m.split(".")[0] == "seeds" for _, m in imported_modules(tree, "pipelines"))


def test_no_enum_is_copied_by_hand():
    copies = hand_copied_enums()
    assert not copies, "import these from models.enums instead:\n" + "\n".join(copies)


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("seeds", "import pipelines.settings\n", [(1, "pipelines.settings")]),
        ("seeds", "from pipelines import settings\n", [(1, "pipelines")]),
        ("seeds", "def f():\n    from pipelines.settings import mask_url\n",
         [(2, "pipelines.settings")]),
        ("seeds", "import importlib\nimportlib.import_module('pipelines.cli')\n",
         [(1, "importlib"), (2, "pipelines.cli")]),
        ("seeds", "__import__('pipelines')\n", [(1, "pipelines")]),
        ("seeds", "from . import db\nfrom .errors import SourceError\n",
         [(1, "seeds"), (2, "seeds.errors")]),
        ("models", "if True:\n    import seeds as s\n", [(2, "seeds")]),
    ],
)
def test_every_kind_of_import_is_seen(package, source, expected):
    assert sorted(imported_modules(ast.parse(source), package)) == expected


def test_a_break_is_reported_with_its_file_and_line(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "seeds" / "db.py").write_text(
        "import sqlalchemy\n\n\ndef mask(url):\n    from pipelines.settings import mask_url\n"
    )
    (tmp_path / "pipelines" / "cli.py").write_text("import seeds\n")
    (tmp_path / "pipelines" / "run.py").write_text("from seeds import generate\n")
    (tmp_path / "models" / "schema.py").write_text("import pipelines\n")
    assert boundary_breaks(tmp_path) == [
        "models/schema.py:1: models imports pipelines",
        "seeds/db.py:5: seeds imports pipelines.settings",
        "pipelines/run.py:1: pipelines imports seeds",
    ]


def test_a_hand_copied_enum_is_reported(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "models" / "enums.py").write_text('VIP_TIERS = ("silver", "gold", "platinum")\n')
    (tmp_path / "seeds" / "lifecycle.py").write_text(
        'OK = ("pending", "completed")\nTIERS = ["gold", "silver", "platinum"]\n'
    )
    assert hand_copied_enums(tmp_path) == ["seeds/lifecycle.py:2: a copy of models.enums.VIP_TIERS"]
