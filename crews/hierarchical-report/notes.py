"""A tiny search over the team's notes (notes.json beside this file)."""

import json
from pathlib import Path

NOTES = Path(__file__).with_name("notes.json")


def search_notes(query: str, limit: int = 3) -> list[dict[str, str]]:
    """Return the notes that share the most words with the query, best first."""
    words = set(query.lower().split())
    notes = json.loads(NOTES.read_text(encoding="utf-8"))
    scored = [(len(words & set(n["text"].lower().split())), n) for n in notes]
    ranked = [n for score, n in sorted(scored, key=lambda s: (-s[0], s[1]["id"])) if score > 0]
    return ranked[:limit]
