"""Search known fraud patterns: `python patterns.py --query WORDS` prints matches as JSON."""

import argparse
import json

PATTERNS = [
    {
        "id": "P-1",
        "name": "night transfer to new payee",
        "weight": 0.6,
        "words": {"night", "new", "payee", "03", "late"},
    },
    {
        "id": "P-2",
        "name": "amount just under review threshold",
        "weight": 0.5,
        "words": {"4", "980", "threshold", "under", "amount"},
    },
    {
        "id": "P-3",
        "name": "dormant account reactivated",
        "weight": 0.4,
        "words": {"dormant", "reactivated", "inactive"},
    },
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--query", required=True)
    args = parser.parse_args()
    words = {w.strip(",.:$").lower() for w in args.query.split()}
    matches = [
        {"id": p["id"], "name": p["name"], "weight": p["weight"]}
        for p in PATTERNS
        if words & p["words"]
    ]
    print(json.dumps({"query": args.query, "matches": matches}))


if __name__ == "__main__":
    main()
