"""``vjepa2.models`` sits below ``vjepa2.weights``, which sits below inference/train/cli: no
module imports upwards, at top level or inside a function."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "vjepa2"
ABOVE = {
    "models": ("weights", "inference", "train", "world_model", "cli"),
    "weights": ("inference", "train", "world_model", "cli"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", list(ABOVE))
def test_no_upward_imports(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            for above in ABOVE[package]:
                assert not name.startswith(f"vjepa2.{above}"), f"{path.name} imports {name}"


def test_the_check_sees_function_level_imports(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    from vjepa2.inference import embed\n")
    assert "vjepa2.inference" in imported_modules(tmp_path / "m.py")
