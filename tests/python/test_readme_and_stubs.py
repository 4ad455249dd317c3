import os
import re
import subprocess
import sys

from conftest import ROOT


# The documents whose Python examples are run: the README's, then the Python guide's.
DOCUMENTS = ("README.md", "docs/python.md")


def python_blocks(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    return re.findall(r"<!-- python-example -->\s*```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    counts = {}
    for document in DOCUMENTS:
        blocks = python_blocks(document)
        counts[document] = len(blocks)
        for block in blocks:
            exec(compile(block, document, "exec"), {"__name__": "readme"})
    assert counts == {"README.md": 1, "docs/python.md": 2}
    out = capsys.readouterr().out
    assert "多又好超市 12.50" in out            # the README's receipt
    assert "301 timeout True" in out           # docs/python.md: the errors
    assert "LFV3A28W6K3705006" in out          # docs/python.md: AsyncClient


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
