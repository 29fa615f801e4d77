"""Tool results, --inputs and token counts cost memory and time bounded by their caps."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from pathlib import Path

from toolcrew import tools_of, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.cli.run import MAX_INPUTS_BYTES
from mas_cli.cost.tokens import EXACT_MAX_CHARS, count_messages, count_text

SIZE = 30_000_000

HUGE_TOOLS = f"""
def huge_text() -> str:
    return "é" * {SIZE // 2}


def huge_value() -> dict:
    return {{"rows": ["x" * 1000] * {SIZE // 1000}}}
"""


def _call(folder: Path, name: str) -> tuple[str, float]:
    crew = write_crew(
        folder,
        {name: {"function": f"tools.py:{name}", "max_output_bytes": 1000}},
        tools_py=HUGE_TOOLS,
    )
    tool = tools_of(crew)[name]
    tracemalloc.start()
    try:
        result = asyncio.run(tool.call({}))
        return result.output, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def test_a_huge_function_result_is_cut_without_a_copy_of_it(tmp_path: Path) -> None:
    output, peak = _call(tmp_path, "huge_text")
    assert output == "é" * 500 + f"\n[output cut at 1000 bytes of {SIZE}]"
    # The string itself takes SIZE; its whole UTF-8 copy would take SIZE more.
    assert peak < SIZE * 1.2 / 1e6, f"{peak:.0f} MB"


def test_a_huge_json_result_is_cut_as_it_is_encoded(tmp_path: Path) -> None:
    output, peak = _call(tmp_path, "huge_value")
    total = len(json.dumps({"rows": ["x" * 1000] * (SIZE // 1000)}))
    assert output.startswith('{"rows": ["xxx')
    assert output.endswith(f"\n[output cut at 1000 bytes of {total}]")
    assert peak < 20, f"{peak:.0f} MB"  # the list shares one string; its JSON would be 30 MB


def test_an_inputs_file_past_the_bound_is_refused_before_it_is_read(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, {})
    big = tmp_path / "inputs.json"
    big.write_text(json.dumps({"topic": "x" * MAX_INPUTS_BYTES}))
    result = CliRunner().invoke(app, ["run", str(crew), "--offline", "--inputs", str(big)])
    assert result.exit_code == 2
    assert f"larger than {MAX_INPUTS_BYTES:,} bytes, the most --inputs reads" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_input_value_past_the_bound_is_refused(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, {})
    value = "x" * (MAX_INPUTS_BYTES + 1)
    result = CliRunner().invoke(app, ["run", str(crew), "--offline", "--input", f"topic={value}"])
    assert result.exit_code == 2
    assert f"--input topic: larger than {MAX_INPUTS_BYTES:,} bytes" in result.stderr


def test_token_counts_of_huge_texts_are_a_byte_bound_decided_without_the_tokenizer() -> None:
    text = "word é " * 2_000_000  # 14 M characters, 16 MB of UTF-8
    started = time.process_time()
    counted = count_text(text, "gpt-4o")
    messages = [{"role": "user", "content": text}]
    in_chat = count_messages(messages, "gpt-4o")
    assert time.process_time() - started < 10  # tokenizing took minutes at this size
    assert counted.tokens == len(text.encode())
    assert counted.estimate
    assert in_chat.tokens >= counted.tokens
    assert in_chat.estimate
    small = "word é " * (EXACT_MAX_CHARS // 8)
    exact = count_text(small, "gpt-4o")
    assert not exact.estimate
    assert exact.tokens < len(small.encode())  # the bound is above the exact count
