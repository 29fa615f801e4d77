"""Tools of the starter crew: plain Python functions, typed, with a docstring the model reads."""

FACTS = {
    "circuit breakers": "A circuit breaker stops calls after repeated failures, retries later.",
    "rate limits": "A rate limit caps requests per minute; clients wait and retry after a 429.",
}


def lookup_fact(topic: str) -> dict[str, str]:
    """Look a topic up in the fact sheet; returns the fact, or says none is known."""
    found = [fact for name, fact in FACTS.items() if name in topic.lower()]
    return {"topic": topic, "fact": " ".join(found) or "no fact on file for this topic"}
