"""Every environment variable the code reads is named in the README, so an operator can find
it (several were read but documented nowhere)."""

from __future__ import annotations

import re

from compose_model import env_vars_the_code_reads

from support import ROOT

# Not settings: the test runner's own switches, and keys of a WSGI request's environ.
NOT_SETTINGS = {"CI", "PHOENYRA_PURE_PYTHON", "HTTP_HOST", "PATH_INFO", "SERVER_NAME"}


def test_every_variable_the_code_reads_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = env_vars_the_code_reads() - NOT_SETTINGS
    assert len(names) > 60  # the scan finds them at all
    missing = sorted(n for n in names if not re.search(rf"\b{n}\b", readme))
    assert missing == [], f"not in README.md: {missing}"
