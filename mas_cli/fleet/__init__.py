"""Scale-out on Temporal: one batch's items run on many machines (`mas batch --engine temporal`,
`mas worker`), under one budget and one set of rate limits. See docs/temporal.md.

Only this package imports `temporalio`, and only when a temporal command runs; the extra
`mas-cli[temporal]` installs it.
"""
