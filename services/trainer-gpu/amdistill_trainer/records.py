"""Training records in the formats AmDistill exports, read into one shape: the context and the final assistant turn.

Accepted per JSON line:
- chat ``messages`` (role/content; the final assistant turn carries its reasoning either in ``reasoning_content``
  or inline as ``<think>…</think>`` before the answer),
- ShareGPT ``conversations`` (from/value),
- the AM schema (``question`` + ``answer`` = ``<think>…</think> <answer>…</answer>``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterator, Optional

_THINK = re.compile(r"^\s*<think>(.*?)</think>(.*)$", re.S)
_ANSWER_TAGS = re.compile(r"^\s*<answer>(.*?)</answer>\s*$", re.S)
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class RecordError(ValueError):
    """A line that cannot become a training sample; the message says why."""


@dataclass(frozen=True)
class Conversation:
    context: list  # messages before the final assistant turn: [{"role": ..., "content": ...}]
    thinking: str
    answer: str


def split_thinking(text: str) -> tuple[str, str]:
    """``<think>t</think> a`` → (t, a); an ``<answer>`` wrapper around the answer (AM schema) is removed."""
    match = _THINK.match(text)
    thinking, answer = (match.group(1), match.group(2)) if match else ("", text)
    tagged = _ANSWER_TAGS.match(answer)
    if tagged:
        answer = tagged.group(1)
    return thinking.strip(), answer.strip()


def parse_record(record: dict) -> Conversation:
    if "messages" in record:
        messages = [dict(m) for m in record["messages"]]
    elif "conversations" in record:
        messages = []
        for turn in record["conversations"]:
            role = _SHAREGPT_ROLES.get(turn.get("from", ""))
            if role is None:
                raise RecordError(f"unknown ShareGPT role {turn.get('from')!r}")
            messages.append({"role": role, "content": turn.get("value", "")})
    elif "question" in record and "answer" in record:
        messages = [{"role": "user", "content": record["question"]}, {"role": "assistant", "content": record["answer"]}]
    else:
        raise RecordError("no 'messages', 'conversations' or 'question'/'answer' field")

    if not messages or messages[-1].get("role") != "assistant":
        raise RecordError("the last turn is not an assistant turn")
    if not any(m.get("role") == "user" for m in messages[:-1]):
        raise RecordError("no user turn before the assistant turn")
    for m in messages:
        if not isinstance(m.get("content"), str):
            raise RecordError(f"a {m.get('role')} turn has no text content")

    final = messages[-1]
    reasoning = final.get("reasoning_content") or final.get("thinking")
    if isinstance(reasoning, str) and reasoning.strip():
        thinking, answer = reasoning.strip(), split_thinking(final["content"])[1]
    else:
        thinking, answer = split_thinking(final["content"])
    if not answer:
        raise RecordError("the final assistant turn has no answer")
    context = [{"role": m["role"], "content": split_thinking(m["content"])[1] if m["role"] == "assistant" else m["content"]}
               for m in messages[:-1]]
    return Conversation(context, thinking, answer)


def read_jsonl(path: str) -> Iterator[tuple[int, Optional[Conversation], Optional[str]]]:
    """(line number, conversation or None, error or None) per non-empty line; nothing is skipped silently."""
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield number, parse_record(json.loads(line)), None
            except (RecordError, json.JSONDecodeError, TypeError, AttributeError) as e:
                yield number, None, f"{type(e).__name__}: {e}"
