"""What the read-only commands do, without Typer: each function takes the command's options as
keyword arguments (the names of its Typer signature) and returns the exit code.

The Typer commands call these; so does the fast path (cli/fast.py), which parses the same
options from the table cli/argtable.py derives from those Typer signatures.
"""
