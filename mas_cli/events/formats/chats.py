"""Chat transcripts, group chats and coding-agent trajectories: one conversation per record.

A record holds its conversation under whatever key a harness chose (`messages`,
`conversation`, `chat`, `history`, `trajectory`, ..., or one level down: `{"data":
{"messages": [...]}}`), or is the list of messages itself. Records come as JSON lines, or as
a JSON document (one object, or a list), read as a stream (see `jsonstream.py`). A line or an
item that is a message by itself (an OpenHands event a line, a list of messages) belongs to
one conversation for the whole input. `conversation.py` maps the messages.

Where a record is: JSON lines are numbered by line; in a document, the loc's line is the
record's number (1, 2, ...), and every record's `span` says `record N · message I`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath
from typing import Any, BinaryIO

import msgspec
from msgspec import Struct, field

from mas_cli.events.formats.conversation import Conversation, dialect
from mas_cli.events.formats.frameworks import AUTOGEN, CHAT, OPENHANDS, SWE_AGENT
from mas_cli.events.formats.jsonstream import DOCUMENT_ERRORS, Path, json_keys, json_parts
from mas_cli.events.formats.records import Record
from mas_cli.events.formats.source import (
    PEEK_BYTES,
    SHAPE_ERRORS,
    STDIN,
    TOO_LONG,
    BadLines,
    LineSource,
    ended_by,
    mostly_left,
    open_binary,
)

CONVERSATION_KEYS = (
    "messages",
    "conversation",
    "chat",
    "chat_history",
    "history",
    "trajectory",
    "events",
    "dialog",
    "transcript",
)
ID_KEYS = ("id", "conversation_id", "instance_id", "session_id", "trace_id", "thread_id", "chat_id")
KIND = {"chat": "chat", "agentchat": "chat", "swe-agent": "swe-agent", "openhands": "openhands"}
DEFAULT_AGENT = {"swe-agent": "swe-agent", "openhands": "openhands"}
WRITER = {"chat": CHAT, "agentchat": AUTOGEN, "swe-agent": SWE_AGENT, "openhands": OPENHANDS}
"""What wrote a conversation of each dialect, so findings' advice speaks its settings."""
_ANY = msgspec.json.Decoder()
Located = tuple[int, Record]


def messages_of(record: Any) -> list[Any] | None:
    """A record's messages: the record itself when it is a list of them, else the list under a
    conversation key, here or one level down (the first found)."""
    if isinstance(record, list):
        return record if record and dialect(record[0]) else None
    if not isinstance(record, dict):
        return None
    for key in CONVERSATION_KEYS:
        value = record.get(key)
        if isinstance(value, list) and value and dialect(value[0]):
            return value
    for value in record.values():
        if isinstance(value, dict):
            found = messages_of(value)
            if found is not None:
                return found
    return None


def chat_kind(value: Any) -> str | None:
    """`chat`, `swe-agent` or `openhands` for a message or a record holding messages."""
    messages = [value] if dialect(value) else messages_of(value)
    if not messages:
        return None
    return KIND[dialect(messages[0])]


def document_kind(head: bytes) -> str | None:
    """The kind of a JSON document, from the keys in its first bytes (a prefix may end
    anywhere): a top-level `trajectory` is SWE-agent's, an `observation` or `action` with
    `args`, `extras` or `cause` is OpenHands', a `role` or an AgentChat `source` is a chat."""
    if head.lstrip()[:1] not in (b"[", b"{"):
        return None
    return _kind_of_keys(json_keys(head))


def _kind_of_keys(keys: set[str]) -> str | None:
    if ".trajectory" in keys and "observation" in keys:
        return "swe-agent"
    if keys & {"action", "observation"} and keys & {"args", "extras", "cause"}:
        return "openhands"
    if "role" in keys or {"source", "models_usage"} <= keys:
        return "chat"
    return None


def read_chats(source: LineSource, bad: BadLines) -> Iterator[Located]:
    """Records from chat transcripts or trajectories, as JSON lines or one JSON document."""
    reader = _Reader(source.name, bad)
    first = next((line for line in source.head if line.strip()), b"")
    if source.document:  # no line was read ahead: every byte is the document's
        yield from reader.document(_Joined(source))
    elif _too_long_first_line(source, bad):  # a one-line document (`json.dump`) past the bound
        handle, raw = open_binary(source.name)
        with raw, handle:
            yield from reader.document(handle)
    elif first.lstrip()[:1] in (b"[", b"{") and not _whole(first) and not _damaged(first):
        yield from reader.document(_Joined(source))
    else:
        yield from reader.lines(source)


def _damaged(first: bytes) -> bool:
    """A first line longer than the peek that the source still read as a line: it is a damaged
    record (cut, nested too deep) of a line-per-record log, not a document's start (see
    `source._line_per_record`)."""
    return len(first) > PEEK_BYTES


def _too_long_first_line(source: LineSource, bad: BadLines) -> bool:
    """Whether the input is a file whose first line was past the line bound; if so it is
    read again from the start as a streamed document, and that line is no longer counted bad."""
    if source.name == STDIN or source.head[:1] != [b"\n"]:
        return False
    kept = [b for b in bad.first if (b.source, b.line, b.reason) != (source.name, 1, TOO_LONG)]
    if len(kept) == len(bad.first):
        return False
    bad.first, bad.count = kept, bad.count - 1
    return True


def _whole(line: bytes) -> bool:
    try:
        _ANY.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


class _Joined:
    """The head lines a LineSource read ahead, then the rest of its input, as one stream."""

    def __init__(self, source: LineSource) -> None:
        self.buffer = b"".join(source.head)
        self.handle: BinaryIO = source.handle
        self.ended = source.ended

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to learn whether it reads bytes
            return b""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        if self.ended:  # the read ahead met a gzip stream's cut: what follows reads as nothing
            raise EOFError(self.ended)
        return self.handle.read(size if size > 0 else 1 << 16)


class _Counted:
    """A stream that counts the bytes read from it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.done = stream, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.done += len(data)
        return data


class _Reader(Struct):
    name: str
    bad: BadLines
    records: int = 0

    def _conversation(self, record: Any, kind: str, several: bool) -> Conversation:
        self.records += 1
        meta = record if isinstance(record, dict) else {}
        ident = next((meta[k] for k in ID_KEYS if isinstance(meta.get(k), str | int)), None)
        stem = PurePath(self.name).stem if self.name != "-" else "stdin"
        trace = str(ident) if ident is not None else stem
        if ident is None and (several or self.records > 1):
            trace = f"{stem}#{self.records}"
        agent = _agent(meta) or DEFAULT_AGENT.get(kind, "assistant")
        prefix = f"record {self.records} · " if several else ""
        return Conversation(trace, agent, prefix, framework=WRITER.get(kind, ""))

    def lines(self, lines: LineSource) -> Iterator[Located]:
        """One record a line; a line that is a message goes on the input's one conversation."""
        shared: Conversation | None = None
        index, number = 0, 0
        for number, line in lines:
            if not line.strip():
                continue
            try:
                value = _ANY.decode(line)
                if dialect(value):
                    if shared is None:
                        shared = self._conversation({}, dialect(value), several=False)
                    found = list(shared.message(number, index, value))
                    index += 1
                elif isinstance(value, list) and messages_of(value) is None:  # records
                    found = [r for item in value for r in self._record(number, item, several=True)]
                else:
                    found = list(self._record(number, value, several=True))
            except (msgspec.DecodeError, *SHAPE_ERRORS) as exc:
                self.bad.add(self.name, number, _reason(exc))
                continue
            yield from found
        if shared is not None:
            yield from shared.end(number)

    def _record(self, loc: int, record: Any, *, several: bool) -> Iterator[Located]:
        messages = messages_of(record)
        if messages is None:
            raise ValueError(
                "no conversation found (a list of messages, or one under a key such as "
                "messages, history or trajectory)"
            )
        chat = self._conversation(record, dialect(messages[0]), several)
        for index, message in enumerate(messages):
            if isinstance(message, dict):
                yield from self.message(chat, loc, index, message)
        yield from chat.end(loc)

    def message(
        self, chat: Conversation, loc: int, index: int, message: dict[str, Any]
    ) -> Iterator[Located]:
        """One message's records, or none and a count when its shape cannot be read."""
        try:
            found = list(chat.message(loc, index, message))
        except SHAPE_ERRORS as exc:
            self.bad.add(self.name, loc, f"{chat.prefix}message {index}: {_reason(exc)}")
            return
        yield from found

    def document(self, stream: Any) -> Iterator[Located]:
        """The conversations of one JSON document, streamed."""
        walk, counted = _Walk(self), _Counted(stream)
        try:
            for path, value in json_parts(counted):
                yield from walk.part(path, value)
        except (OSError, EOFError) as exc:  # a gzip stream cut short: the parts before it read
            self.bad.add(self.name, self.records, f"{ended_by(exc)}: what came before was read")
            self.bad.ended_early += 1
            yield from walk.close(finished=False)
            return
        except DOCUMENT_ERRORS as exc:  # the parts before the fault were read
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.bad.add(self.name, self.records, f"the document ends early or is not JSON ({why})")
            if mostly_left(counted.done, 0, counted.stream.read):
                self.bad.cut_short += 1
            yield from walk.close(finished=False)
            return
        yield from walk.close(finished=True)


class _Walk(Struct):
    """Where a streamed document is: the conversation whose messages are being read."""

    reader: _Reader
    chat: Conversation | None = None
    array: Path | None = None
    owner: Path | None = None
    """The object that holds the array being read; its later arrays are other views of it."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The scalars read before the conversation's messages (its id, its agent)."""
    index: int = 0

    def part(self, path: Path, value: Any) -> Iterator[Located]:
        if not path or not isinstance(path[-1], int):
            if path and isinstance(path[-1], str):
                self._field(path, value)
            return
        array = path[:-1]
        if array == self.array and self.chat is not None:
            yield from self._message(value)
            return
        try:
            yield from self._new(array, value)
        except SHAPE_ERRORS as exc:
            self.reader.bad.add(self.reader.name, self.reader.records, _reason(exc))

    def _new(self, array: Path, value: Any) -> Iterator[Located]:
        if dialect(value):
            owner = array[:-1]
            if self.owner == owner and array != self.array:
                return  # e.g. a .traj's `history`: the same run as its `trajectory`, as messages
            yield from self.close(finished=True)
            self.chat = self.reader._conversation(self.meta, dialect(value), several=False)
            self.array, self.owner, self.index = array, owner, 0
            yield from self._message(value)
            return
        yield from self.close(finished=True)
        self.array = self.owner = None
        loc = self.reader.records + 1
        yield from self.reader._record(loc, value, several=True)

    def _message(self, value: Any) -> Iterator[Located]:
        assert self.chat is not None
        self.index += 1
        yield from self.reader.message(self.chat, self.reader.records, self.index - 1, value)

    def _field(self, path: Path, value: Any) -> None:
        held = self.chat is None and len(path) <= 2 and len(self.meta) < 50
        if held and isinstance(value, str | int):
            self.meta.setdefault(str(path[-1]), value)

    def close(self, *, finished: bool) -> Iterator[Located]:
        if self.chat is not None:
            yield from self.chat.end(self.reader.records, finished=finished)
            self.chat = None
            self.meta = {}


def _agent(meta: dict[str, Any]) -> str:
    for key in ("agent", "agent_name", "agent_class"):
        if isinstance(meta.get(key), str):
            return str(meta[key])
    inner = meta.get("metadata")
    return _agent(inner) if isinstance(inner, dict) else ""


def _reason(exc: Exception) -> str:
    if isinstance(exc, msgspec.DecodeError):
        return f"not JSON ({exc})"
    if isinstance(exc, RecursionError):
        return "nested too deep to read"
    return f"an unexpected shape ({type(exc).__name__}: {exc})"[:200]
