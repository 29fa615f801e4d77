"""A stdio server's stdout reaches the SDK's reader in whole lines (mas_cli/tools/mcp/lines.py):
the reader joined each 64 KB chunk to the unfinished line it held, N² / 64 KB of copying for a
reply of N bytes (20 MB: 4.4 s of CPU; 50 MB: past a 20 s timeout)."""

from __future__ import annotations

import anyio

from mas_cli.tools.mcp.lines import WholeLines, read_in_whole_lines


async def chunks_of(pieces: list[bytes]) -> list[str]:
    send, receive = anyio.create_memory_object_stream[bytes](len(pieces))
    async with send:
        for piece in pieces:
            await send.send(piece)
    async with receive:
        return [chunk async for chunk in WholeLines(receive, errors="replace")]


def test_chunks_end_at_a_line_end_and_keep_every_byte() -> None:
    pieces = [b"ab", b"c\nd", b"e\n", b"\n", b"f" * 70_000, b"g\nh\xff", b"i", b"\xc3", b"\xa9"]
    got = anyio.run(chunks_of, pieces)
    assert got == ["abc\n", "de\n", "\n", "f" * 70_000 + "g\n", "h\ufffdié"]


def test_a_long_reply_is_one_chunk_not_many() -> None:
    line = b'{"x": "' + b"y" * 1_000_000 + b'"}\n'
    pieces = [line[i : i + 65_536] for i in range(0, len(line), 65_536)]
    assert anyio.run(chunks_of, pieces) == [line.decode()]


def test_the_sdk_reads_a_server_through_it() -> None:
    import mcp.client.stdio as sdk_stdio

    read_in_whole_lines()
    assert sdk_stdio.TextReceiveStream is WholeLines
