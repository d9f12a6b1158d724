"""Conversation → token ids and loss labels.

The prompt (every turn before the final assistant turn, rendered by the model's chat template with the generation
prompt) is context: no loss. The target is the final assistant turn *with its thinking*, rendered here rather than by
the template, because the reasoning models' templates (DeepSeek-R1-Distill, Qwen3) strip ``<think>`` from assistant
turns; the target ends with the template's own end-of-turn text so the model learns to stop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .records import Conversation

IGNORE = -100
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def chatml(messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
    """The ChatML template (Qwen2.5), used when a tokenizer has none."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


@dataclass(frozen=True)
class Encoded:
    input_ids: list
    prompt_length: int  # tokens [0, prompt_length) are context; the rest is the target


class ChatFormatter:
    """``render(messages, add_generation_prompt)`` is the chat template; ``encode(text)`` tokenises without special tokens."""

    def __init__(self, render: Callable[[Sequence[dict], bool], str], encode: Callable[[str], list]):
        self._render, self._encode = render, encode
        probe_user = [{"role": "user", "content": "u"}]
        prompt = render(probe_user, True)
        full = render(probe_user + [{"role": "assistant", "content": "\x00"}], False)
        # The generation prompt may already open the think block (newer DeepSeek-R1-Distill templates).
        self.prompt_opens_think = prompt.rstrip().endswith(THINK_OPEN)
        after = full.split("\x00", 1)[1] if "\x00" in full else ""
        self.end_of_turn = after.rstrip("\n") if after.strip() else ""

    @classmethod
    def for_hf_tokenizer(cls, tokenizer) -> "ChatFormatter":
        if getattr(tokenizer, "chat_template", None):
            def render(messages, gen):
                return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=gen)
        else:
            render = chatml
        formatter = cls(render, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"])
        if not formatter.end_of_turn and tokenizer.eos_token:
            formatter.end_of_turn = tokenizer.eos_token
        return formatter

    def prompt_text(self, messages: Sequence[dict]) -> str:
        """The conversation so far with the generation prompt: what a served model continues."""
        return self._render(messages, True)

    def target_text(self, conversation: Conversation) -> str:
        think = f"\n{conversation.thinking}\n{THINK_CLOSE}\n\n"
        opening = "" if self.prompt_opens_think else THINK_OPEN
        return f"{opening}{think}{conversation.answer}{self.end_of_turn}"

    def encode(self, conversation: Conversation) -> Encoded:
        prompt_ids = self._encode(self._render(conversation.context, True))
        target_ids = self._encode(self.target_text(conversation))
        return Encoded(list(prompt_ids) + list(target_ids), len(prompt_ids))

