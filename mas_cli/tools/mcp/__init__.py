"""MCP servers as a crew's tools: each server started once per run, its tools guarded and cached
like any other (see connection, tool, pool). The `mcp` SDK is imported only on these paths."""

from __future__ import annotations

from mas_cli.tools.mcp.pool import Servers, mcp_tools, open_servers, used_servers
from mas_cli.tools.mcp.tool import McpTool

__all__ = ["McpTool", "Servers", "mcp_tools", "open_servers", "used_servers"]
