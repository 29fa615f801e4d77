"""A tiny GGUF model whose weights are written by hand to act out one agent turn pattern.

Its first answer opens a tool call (the server's grammar writes the call); once a tool's
result is in the prompt, it answers `{"decision":"approve"}` and ends its turn. One attention
head finds the `<tool_response>` token the chat template puts around a tool's result; every
other weight is zero or a fixed choice, so what it writes depends only on that, on any server
and either wire format, with no sampling parameter the server might drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tinymodel import CHAT_TEMPLATE, CONTROL, END_TOKEN, TOOL_CALL_TOKEN, USER_DEFINED, byte_tokens

ANSWER = '{"decision":"approve"}'
N_EMBD, N_HEAD, N_FF = 64, 4, 64
# The residual stream's dimensions that carry meaning.
ON, RESPONSE, ANSWERED, SEEN, OPENER, CALLED = range(6)
QK = 14  # in each head, the lowest-frequency rotary pair: position barely turns it
HEAD = N_EMBD // N_HEAD
QK_SCALE = 1.5  # a score of about 25 for the response token: all the attention goes there


def write_scripted_model(path: Path) -> Path:
    """Write the model to `path` and return it."""
    import gguf

    base = byte_tokens()
    tokens = [*base, "Ġt", "he", "<tool_call>" + base[ord("\n")], *CONTROL, *USER_DEFINED]
    types = [1] * (len(base) + 3) + [3] * len(CONTROL) + [4] * len(USER_DEFINED)
    tokens += ["<tool_response>", ANSWER]
    types += [4, 1]
    assert tokens[TOOL_CALL_TOKEN].startswith("<tool_call>")
    assert tokens[END_TOKEN] == "<|im_end|>"
    response, answer = len(tokens) - 2, len(tokens) - 1
    w = gguf.GGUFWriter(str(path), "llama")
    _header(w, tokens, types)
    for name, value in _weights(len(tokens), response, answer).items():
        w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _header(w: Any, tokens: list[str], types: list[int]) -> None:
    w.add_name("mas-scripted-test")
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(1)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(HEAD)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e8)
    w.add_vocab_size(len(tokens))
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ t", "h e"])
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(END_TOKEN)
    w.add_pad_token_id(tokens.index("<|endoftext|>"))
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)


def _weights(vocab: int, response: int, answer: int) -> dict[str, np.ndarray]:
    """Arrays are (out, in). After RMS norm a one-hot token reads 8 on its dimensions."""
    f32 = np.float32
    embd = np.zeros((vocab, N_EMBD), f32)
    embd[:, ON] = 1
    embd[response, RESPONSE] = 1
    embd[answer, ANSWERED] = 1
    embd[TOOL_CALL_TOKEN, OPENER] = 1
    q, k, v, o = (np.zeros((N_EMBD, N_EMBD), f32) for _ in range(4))
    # head 0: is a tool's result in the prompt? head 1: has this turn opened a tool call?
    for head, (key, flag) in enumerate(((RESPONSE, SEEN), (OPENER, CALLED))):
        at = head * HEAD
        q[at + QK, ON] = QK_SCALE  # every position asks
        k[at + QK, key] = QK_SCALE  # only the one token answers
        v[at, key] = 1.0
        o[flag, at] = 1 / np.sqrt(N_EMBD / 2)  # undo the norm's scale: the flag reads about 1
    out = np.zeros((vocab, N_EMBD), f32)
    out[TOOL_CALL_TOKEN, [ON, SEEN, ANSWERED, CALLED]] = (4, -10, -10, -12)  # call a tool, once
    out[answer, [SEEN, ANSWERED]] = (6, -12)  # a result: answer, once
    out[END_TOKEN, [ON, ANSWERED, CALLED]] = (2, 12, 12)  # after either: end the turn
    ones = np.ones(N_EMBD, f32)
    return {
        "token_embd.weight": embd,
        "output_norm.weight": ones,
        "output.weight": out,
        "blk.0.attn_norm.weight": ones,
        "blk.0.ffn_norm.weight": ones,
        "blk.0.attn_q.weight": q,
        "blk.0.attn_k.weight": k,
        "blk.0.attn_v.weight": v,
        "blk.0.attn_output.weight": o,
        "blk.0.ffn_gate.weight": np.zeros((N_FF, N_EMBD), f32),
        "blk.0.ffn_up.weight": np.zeros((N_FF, N_EMBD), f32),
        "blk.0.ffn_down.weight": np.zeros((N_EMBD, N_FF), f32),
    }


if __name__ == "__main__":
    import sys

    print(write_scripted_model(Path(sys.argv[1])))
