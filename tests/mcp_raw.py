"""A hand-written stdio MCP server that misbehaves on purpose (line-delimited JSON-RPC).

python mcp_raw.py bad-schema   # offers a tool whose input schema is not valid JSON Schema
python mcp_raw.py not-object   # offers a tool whose input schema is {"type": "string"}
python mcp_raw.py no-start     # prints a reason to stderr and exits 1 before any message
python mcp_raw.py leak-start   # writes $TOKEN near the start of its stderr's last 16 KB, exits 1
python mcp_raw.py echo-token   # a call answers `pad` x's then $TOKEN (an error when `error`)
python mcp_raw.py silent       # reads and never answers (a start that times out)
python mcp_raw.py busy         # reads one line, then sleeps a minute (still starting)
python mcp_raw.py protocol     # answers every tools/call with a JSON-RPC error
python mcp_raw.py latin1       # logs a Latin-1 line (not UTF-8) to stdout before each answer
python mcp_raw.py names        # offers tools whose names differ only outside [A-Za-z0-9_-]
python mcp_raw.py deep-schema  # offers a tool whose input schema nests 300 objects deep
python mcp_raw.py bad-reply    # answers a call with `"result": 5` (a reply that is no result)
python mcp_raw.py cursor-loop  # lists its tools with a next cursor that is always the same
python mcp_raw.py twice        # offers the tool good twice, with two input schemas
python mcp_raw.py stderr-flood # writes 3 MB to stderr, then "last words", then serves
python mcp_raw.py big          # answers a call with `mb` megabytes of text (bench)
python mcp_raw.py surrogate    # answers a call with a file name's stray byte as `\\udcff`
python mcp_raw.py endless      # answers a call with `mb` megabytes and no newline, then waits
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

MODE = sys.argv[1]
TOOLS = [
    {"name": "good", "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}}},
    {"name": "broken", "inputSchema": {"type": "object", "properties": {"x": {"type": 12}}}},
]

NAMED = ["读取", "写入", "a/b", "a_b", "x.y", "x__y"]
"""Names a model's API would not take as they are, each of which, made fit by replacing what
it refuses, would be another's: each tool answers with its own name."""
if MODE == "not-object":
    TOOLS = [TOOLS[0], {"name": "scalar", "inputSchema": {"type": "string"}}]
if MODE == "names":
    TOOLS = [{"name": name, "inputSchema": {"type": "object"}} for name in NAMED]
if MODE == "twice":
    TOOLS = [TOOLS[0], {**TOOLS[0], "inputSchema": {"type": "object", "required": ["y"]}}]
if MODE == "deep-schema":
    DEEP: dict = {"type": "string"}
    for _ in range(300):
        DEEP = {"type": "object", "properties": {"a": DEEP}}
    TOOLS = [{"name": "good", "inputSchema": DEEP}]


def answer(request: dict, result: dict | None = None, error: dict | None = None) -> None:
    if MODE == "noisy":
        sys.stdout.write("Starting raw server v1... (not JSON-RPC)\n")
    if MODE == "latin1":
        sys.stdout.buffer.write("café prêt\n".encode("latin-1"))
    if MODE in ("noisy", "latin1") and request.get("method") == "tools/call":
        result, error = {"content": [{"type": "text", "text": "fine"}]}, None
    reply = {"jsonrpc": "2.0", "id": request["id"]}
    reply.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        method = request.get("method")
        if "id" not in request:
            continue
        if MODE == "silent":
            continue
        if method == "initialize":
            answer(
                request,
                {
                    "protocolVersion": request["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "raw", "version": "1"},
                },
            )
        elif method == "tools/list" and MODE == "cursor-loop":
            answer(request, {"tools": TOOLS, "nextCursor": "page-2"})
        elif method == "tools/list":
            answer(request, {"tools": TOOLS})
        elif method == "tools/call" and MODE == "echo-token":
            args = request["params"].get("arguments") or {}
            text = "x" * int(args.get("pad", 0)) + os.environ["TOKEN"] + " and more"
            content = [{"type": "text", "text": text}]
            answer(request, {"content": content, "isError": bool(args.get("error"))})
        elif method == "tools/call" and MODE == "bad-reply":
            answer(request, 5)  # type: ignore[arg-type]
        elif method == "tools/call" and MODE == "big":
            mb = float((request["params"].get("arguments") or {}).get("mb", 1))
            answer(request, {"content": [{"type": "text", "text": "x" * int(mb * 2**20)}]})
        elif method == "tools/call" and MODE == "endless":
            mb = int((request["params"].get("arguments") or {}).get("mb", 1))
            for _ in range(mb):  # a megabyte at a time: the server's own memory stays small
                sys.stdout.write("x" * 2**20)
            sys.stdout.flush()
            time.sleep(60)
        elif method == "tools/call" and MODE == "surrogate":
            # What a Python server writes for a file name that is not UTF-8 (os.listdir
            # decodes its stray byte to a lone surrogate; json.dumps escapes it as is).
            content = [{"type": "text", "text": "notes-\udcff.txt"}]
            answer(request, {"content": content})
        elif method == "tools/call" and MODE == "names":
            text = f"called {request['params']['name']}"
            answer(request, {"content": [{"type": "text", "text": text}]})
        elif method == "tools/call":
            answer(request, error={"code": -32603, "message": "internal failure in the raw server"})
        else:
            answer(request, error={"code": -32601, "message": f"no method {method}"})


if __name__ == "__main__":
    if MODE == "no-start":
        sys.stderr.write("loading config...\nfatal: config file /etc/raw.toml is missing\n")
        sys.exit(1)
    if MODE == "leak-start":
        token = os.environ["TOKEN"]  # the last 16 KB (what mas reads back) begin mid-token
        sys.stderr.write(f"loading {token}" + "y" * (16 * 1024 - len(token) // 2 - 1) + "\n")
        sys.exit(1)
    if MODE == "stderr-flood":
        sys.stderr.write(("log " * 255 + "\n") * 3 * 1024 + "last words\n")
        sys.stderr.flush()
    if MODE == "silent":  # its pid in silent.pid, for a test to see it gone
        Path("silent.pid").write_text(str(os.getpid()), encoding="utf-8")
    if MODE == "busy":  # deaf to the end of its stdin, as a server busy loading is
        sys.stdin.readline()
        time.sleep(60)
    serve()
