"""Run-log events: types, the writer, and streaming readers."""
