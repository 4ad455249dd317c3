import os
import re
import subprocess
import sys

from conftest import ROOT


def python_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"<!-- python-example -->\s*```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run(monkeypatch, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 2
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "12.50" in out


def test_stubs_match_the_module():
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "piaoju", "--ignore-missing-stub"],
        capture_output=True, text=True, cwd=os.path.dirname(__file__),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_type_checks():
    examples = [ROOT / "tests" / "python" / name for name in ("typed_usage.py", "typed_batch.py")]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *map(str, examples)],
        capture_output=True, text=True, cwd=os.path.dirname(__file__),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_ships_types():
    import pathlib

    import piaoju

    package = pathlib.Path(piaoju.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()
    # The tests run against the installed package, not the source tree.
    assert "site-packages" in str(package)
