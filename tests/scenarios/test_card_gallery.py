"""docs/cards.md (the README's page of cards as a clinician sees them) is current."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_card_gallery_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("card_gallery", ROOT / "scripts" / "card_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "cards.md").read_text()
    assert module.render() == committed, "run: .venv/bin/python scripts/card_gallery.py"
