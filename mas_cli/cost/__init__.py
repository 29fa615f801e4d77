"""Token counting, prices and cost reports."""
