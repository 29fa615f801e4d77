"""Search the knowledge base in kb/: `python kb.py --query WORDS [--limit N]` prints JSON."""

import argparse
import json
import re
from pathlib import Path

KB = Path(__file__).with_name("kb")


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def search(query: str, limit: int) -> list[dict[str, object]]:
    wanted = words(query)
    hits = []
    for article in sorted(KB.glob("*.md")):
        text = article.read_text(encoding="utf-8")
        title, _, body = text.partition("\n")
        score = len(wanted & words(text))
        if score:
            hits.append(
                {
                    "article": article.stem,
                    "title": title.lstrip("# "),
                    "score": score,
                    "excerpt": " ".join(body.split())[:300],
                }
            )
    hits.sort(key=lambda h: (-h["score"], h["article"]))
    return hits[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--query", required=True)
    parser.add_argument("--limit", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps({"query": args.query, "results": search(args.query, args.limit)}))


if __name__ == "__main__":
    main()
