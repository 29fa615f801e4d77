"""An MCP server (stdio) over the markdown files in a folder: list, read and search them.

Run by mas as `python docs_server.py docs` (see crew.yaml); written with the official `mcp`
SDK, which mas installs, so the crew runs offline with nothing else to install.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs").resolve()
app = MCPServer("docs")


def _doc(name: str) -> Path:
    path = (ROOT / name).resolve()
    if path.parent != ROOT or path.suffix != ".md" or not path.is_file():
        raise ToolError(f"no document {name!r}; list_docs names them")
    return path


@app.tool()
def list_docs() -> list[str]:
    """The documents in the folder, by file name."""
    return sorted(p.name for p in ROOT.glob("*.md"))


@app.tool()
def read_doc(name: str) -> str:
    """The whole text of one document, e.g. read_doc(name="refunds.md")."""
    return _doc(name).read_text(encoding="utf-8")


@app.tool()
def search_docs(query: str) -> list[str]:
    """Lines of any document holding every word of the query (case-insensitive)."""
    words = query.lower().split()
    return [
        f"{path.name}: {line.strip()}"
        for path in sorted(ROOT.glob("*.md"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and all(w in line.lower() for w in words)
    ]


if __name__ == "__main__":
    app.run()
