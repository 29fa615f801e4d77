"""Account look-ups for the fraud-review crew (a stand-in for the bank's account service)."""

ACCOUNTS = {
    "acct-7": {
        "opened": "2019-04-02",
        "country": "NL",
        "usual_amount_usd": 120,
        "known_payees": 14,
        "night_transfers_last_90d": 0,
    },
    "acct-12": {
        "opened": "2026-10-30",
        "country": "NL",
        "usual_amount_usd": 40,
        "known_payees": 1,
        "night_transfers_last_90d": 6,
    },
}


def lookup_account(account_id: str) -> dict[str, object]:
    """Return the profile of an account: age, country, usual amounts and payee history."""
    profile = ACCOUNTS.get(account_id.strip().lower())
    if profile is None:
        return {"account_id": account_id, "found": False}
    return {"account_id": account_id, "found": True, **profile}
