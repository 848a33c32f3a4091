"""Every environment variable the code reads is named in the README, so an operator can find
it (several were read but nowhere documented)."""

from __future__ import annotations

import re

from pydantic import AliasChoices

from phoenyra.config import Settings
from phoenyra.webapp.settings import WebSettings
from support import ROOT

# A variable read from the environment: pydantic aliases, os.environ / env.get lookups, and the
# (field, VARIABLE) pairs of the telemetry sources' environment mappings.
READ = re.compile(
    r'(?:AliasChoices\(|env(?:iron)?\.get\(|environ\[|getenv\(|\(\s*"[a-z_]+",\s*)'
    r'"([A-Z][A-Z0-9_]{2,})"'
)
# Not settings: keys of a WSGI request's environ, and the test runner's own switches.
NOT_SETTINGS = {"HTTP_HOST", "PATH_INFO", "SERVER_NAME", "CI", "PHOENYRA_PURE_PYTHON"}


def _read_by_the_code() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "phoenyra").rglob("*.py"):
        names.update(READ.findall(path.read_text(encoding="utf-8")))
    for cls in (Settings, WebSettings):
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(c for c in alias.choices if isinstance(c, str))
            elif isinstance(alias, str):
                names.add(alias)
            else:
                names.add(name.upper())
    return {n for n in names if n.isupper() and "_" in n} - NOT_SETTINGS


def test_every_variable_the_code_reads_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = _read_by_the_code()
    assert len(names) > 60  # the scan finds them at all
    missing = sorted(n for n in names if not re.search(rf"`{n}`|\b{n}\b", readme))
    assert missing == [], f"not in README.md: {missing}"
