"""The telemetry page shows the device presets' titles, notes and limits in the page's
language: each one is in the German catalogue, translated (a changed preset text fails here
instead of appearing in English on a German page)."""

from __future__ import annotations

from babel.messages.pofile import read_po

from phoenyra.webapp.preset_words import preset_texts
from support import ROOT

PO = ROOT / "src/phoenyra/webapp/translations/de/LC_MESSAGES/messages.po"


def test_every_preset_title_note_and_limit_has_a_german_text():
    with PO.open("rb") as f:
        catalogue = read_po(f)
    texts = preset_texts()
    assert len(texts) >= 20
    missing = [t for t in texts if not (catalogue.get(t) and catalogue.get(t).string)]
    assert missing == [], missing
