"""`mas view`: a run, or a batch of runs, as one self-contained HTML file.

A reader like triage and cost: it reads `events.jsonl` (and, with `--include-content`, the
recording `llm.jsonl`), never the engine, a provider or a tool. `read` turns a log into plain
records, `timeline` and `charts` draw them as SVG (`svg` escapes every value), `page` puts
everything in one file with its CSS and JavaScript (`static/`) inline, so nothing is fetched
and the file opens from a disk or a CI artifact; `build` adds the findings of the triage core
and writes a run's page, and `batch` a batch's table of items, each linking to its run's page.
"""
