"""Batches: one crew over many items, a run per item, sharing budgets, rate limits and cache."""
