"""The documents: the README stays what a newcomer needs, and every link between the documents
(README.md, CHANGELOG.md, docs/*.md) leads to a file that exists and, with a #fragment, to one of
its headings (GitHub's anchors)."""

import re

from conftest import ROOT

DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(path):
    """The anchors GitHub gives a Markdown file's headings (outside code blocks)."""
    found, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


def links(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_the_readme_is_at_most_300_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"README.md has {lines} lines: move the details to docs/"


def test_every_link_between_the_documents_resolves():
    broken, checked = [], 0
    for doc in DOCUMENTS:
        for target in links(doc):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file, _, fragment = target.partition("#")
            dest = (doc.parent / file).resolve() if file else doc
            checked += 1
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 40
    assert broken == []


def test_the_slugs_are_githubs():
    # The anchors the documents rely on, as GitHub makes them.
    assert "c-and-c" in anchors(ROOT / "README.md")
    assert "abi-policy" in anchors(ROOT / "docs" / "c.md")
