"""The README and docs/ stay true to the tree: every test file they cite and every relative
link they make points at something that exists."""

import re

import pytest

from tests.support import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_cited_test_file_exists(page):
    cited = set(re.findall(r"\btests/[\w/]+\.py\b", page.read_text()))
    assert [path for path in sorted(cited) if not (REPO_ROOT / path).is_file()] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert [link for link in local if not (page.parent / link).exists()] == []
