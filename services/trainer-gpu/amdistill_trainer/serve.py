"""``python -m amdistill_trainer serve``: a model directory behind an OpenAI-compatible chat completions endpoint, so
that the generation service can ask a trained model (or its base) like any teacher.

With vLLM installed (and a Hugging Face model) the process becomes vLLM's own OpenAI server with the DeepSeek-R1
reasoning parser. Otherwise this server answers with the model's own forward: requests that arrive together are
sampled as one left-padded batch (``--max-batch`` sequences; a request's ``n`` choices are sequences of it) by the
model's own ``generate``, or, for an amdistill tiny model, by its forward token by token. Either
way the thinking comes back as ``reasoning_content`` and the answer as ``content``, as vLLM and DeepSeek return them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import queue
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

import torch

from .formatting import THINK_CLOSE, THINK_OPEN, ChatFormatter


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int

    def key(self) -> tuple:
        return self.temperature, self.top_p, self.max_tokens


@dataclass
class Sequence:
    prompt: list
    sampling: Sampling
    seed: Optional[int]
    result: Future = field(default_factory=Future)


class TorchEngine:
    """Batched sampling with the tiny model's full forward at each token (no KV cache; it has no ``generate``), with a
    seed per sequence."""

    def __init__(self, lm: torch.nn.Module, stop_ids: set, pad_id: int, max_positions: int, device="cpu"):
        self.lm, self.stop_ids, self.pad_id, self.max_positions, self.device = lm.eval().to(device), stop_ids, pad_id, max_positions, device

    @torch.no_grad()
    def logits(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        # No mask: the tiny model starts a sequence at each position 0, so left pads (position 0 each) stay apart.
        out = self.lm.base_model(input_ids=ids, position_ids=positions, use_cache=False)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return self.lm.get_output_embeddings()(hidden[:, -1]).float()

    def generate(self, batch: list) -> list:
        """(token ids, finish reason) per sequence; all sequences of a batch share one sampling."""
        sampling = batch[0].sampling
        generators = [torch.Generator().manual_seed(s.seed if s.seed is not None else int.from_bytes(os.urandom(4), "little")) for s in batch]
        budget = [max(0, min(sampling.max_tokens, self.max_positions - len(s.prompt))) for s in batch]
        outputs = [[] for _ in batch]
        finish = ["length" if b == 0 else None for b in budget]
        while any(f is None for f in finish):
            rows = [s.prompt + o for s, o in zip(batch, outputs)]
            width = max(len(r) for r in rows)
            # Left padding: every pad at position 0, each real sequence from position 0.
            ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], device=self.device)
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
            logits = self.logits(ids, (mask.cumsum(-1) - 1).clamp(min=0))
            for i, g in enumerate(generators):
                if finish[i] is not None:
                    continue
                token = sample(logits[i], sampling, g)
                if token in self.stop_ids:
                    finish[i] = "stop"
                    continue
                outputs[i].append(token)
                if len(outputs[i]) >= budget[i]:
                    finish[i] = "length"
        return list(zip(outputs, finish))


class GenerateEngine:
    """A Hugging Face model's own ``generate`` (KV cache) over a left-padded batch: the fallback for real models where vLLM
    is not installed. One seed per batch (``generate`` draws from the global generator): the first sequence's."""

    def __init__(self, lm: torch.nn.Module, stop_ids: set, pad_id: int, max_positions: int, device="cpu"):
        self.lm, self.stop_ids, self.pad_id, self.max_positions, self.device = lm.eval().to(device), stop_ids, pad_id, max_positions, device

    @torch.no_grad()
    def generate(self, batch: list) -> list:
        sampling = batch[0].sampling
        width = max(len(s.prompt) for s in batch)
        budget = min(sampling.max_tokens, self.max_positions - width)
        if budget <= 0:
            return [([], "length") for _ in batch]
        ids = torch.tensor([[self.pad_id] * (width - len(s.prompt)) + s.prompt for s in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(s.prompt)) + [1] * len(s.prompt) for s in batch], device=self.device)
        torch.manual_seed(batch[0].seed if batch[0].seed is not None else int.from_bytes(os.urandom(4), "little"))
        options = {"do_sample": sampling.temperature > 0, "max_new_tokens": budget, "eos_token_id": sorted(self.stop_ids), "pad_token_id": self.pad_id}
        if sampling.temperature > 0:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        out = self.lm.generate(input_ids=ids, attention_mask=mask, **options)
        return [until_stop(row, self.stop_ids) for row in out[:, width:].tolist()]


def until_stop(tokens: list, stop_ids: set) -> tuple:
    """A generated row up to its first stop token (after it: padding), and why it ended."""
    for i, token in enumerate(tokens):
        if token in stop_ids:
            return tokens[:i], "stop"
    return tokens, "length"


def sample(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    if sampling.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / sampling.temperature, -1)
    if sampling.top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < sampling.top_p  # the smallest prefix reaching top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


def split_reasoning(text: str, prompt_opens_think: bool) -> tuple:
    """(reasoning, answer) as vLLM's deepseek_r1 parser splits them: everything before ``</think>`` is reasoning;
    with no ``</think>`` at all (a truncated answer) the whole output is reasoning."""
    body = text.lstrip()
    if body.startswith(THINK_OPEN):
        body, prompt_opens_think = body[len(THINK_OPEN):], True
    if THINK_CLOSE in body:
        reasoning, answer = body.split(THINK_CLOSE, 1)
        return reasoning.strip(), answer.strip()
    return (body.strip(), "") if prompt_opens_think else (None, text.strip())


class Batcher:
    """One thread owns the model: it takes what is queued (waiting ``wait_s`` for more after the first), up to
    ``max_batch`` sequences, and samples those that share sampling settings together."""

    def __init__(self, engine, max_batch: int = 8, wait_s: float = 0.01):
        self.engine, self.max_batch, self.wait_s = engine, max_batch, wait_s
        self.queue: "queue.Queue[Sequence]" = queue.Queue()
        self.batches = 0
        threading.Thread(target=self._run, daemon=True, name="amdistill-serve-batcher").start()

    def submit(self, sequences: list) -> list:
        for s in sequences:
            self.queue.put(s)
        return [s.result.result() for s in sequences]

    def _run(self):
        while True:
            taken = [self.queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(taken) < self.max_batch:
                try:
                    taken.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            groups: dict = {}
            for s in taken:
                groups.setdefault(s.sampling.key(), []).append(s)
            for group in groups.values():
                self.batches += 1
                try:
                    for s, out in zip(group, self.engine.generate(group)):
                        s.result.set_result(out)
                except Exception as e:  # the requests get a 500 with the reason; the server stays up
                    for s in group:
                        s.result.set_exception(e)


class RequestError(Exception):
    pass


@dataclass
class ServedModel:
    name: str
    formatter: ChatFormatter
    encode: Callable[[str], list]
    decode: Callable[[list], str]
    batcher: Batcher
    max_tokens_default: int = 2048

    def complete(self, body: dict) -> dict:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise RequestError("messages must be a non-empty list of {role, content} with string content")
        n = _number(body, "n", 1, int, 1, 128)
        temperature = _number(body, "temperature", 1.0, float, 0, 2)
        top_p = _number(body, "top_p", 1.0, float, 1e-9, 1)
        max_tokens = _number(body, "max_completion_tokens", None, int, 1, 1 << 20) or _number(body, "max_tokens", self.max_tokens_default, int, 1, 1 << 20)
        seed = _number(body, "seed", None, int, -(1 << 63), (1 << 63) - 1)
        prompt = self.encode(self.formatter.prompt_text(messages))
        sampling = Sampling(temperature, top_p, max_tokens)
        sequences = [Sequence(prompt, sampling, None if seed is None else (seed + i) % (1 << 63)) for i in range(n)]
        results = self.batcher.submit(sequences)
        choices = []
        for i, (ids, finish) in enumerate(results):
            reasoning, answer = split_reasoning(self.decode(ids), self.formatter.prompt_opens_think)
            message = {"role": "assistant", "content": answer}
            if reasoning is not None:
                message["reasoning_content"] = reasoning
            choices.append({"index": i, "message": message, "finish_reason": finish})
        completion = sum(len(ids) for ids, _ in results)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": self.name, "choices": choices,
                "usage": {"prompt_tokens": len(prompt), "completion_tokens": completion, "total_tokens": len(prompt) + completion}}


def _number(body: dict, name: str, default, kind, low, high):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise RequestError(f"{name} must be a number")
    if not low <= value <= high:
        raise RequestError(f"{name} must be in [{low}, {high}]")
    return kind(value)


def handler_for(model: ServedModel):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # one line per request would drown the trainer service's log
            pass

        def _send(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str):
            self._send(status, {"error": {"message": message, "type": kind, "code": None}})

        def do_GET(self):
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/health":
                self._send(200, {"status": "ok", "model": model.name})
            elif path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model.name, "object": "model", "owned_by": "amdistill"}]})
            else:
                self._error(404, f"no route {self.path}", "not_found_error")

        def do_POST(self):
            if self.path.split("?", 1)[0].rstrip("/") != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}", "not_found_error")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                if body.get("stream"):
                    raise RequestError("stream is not supported by this server; ask without it")
                if body.get("model") not in (None, model.name):
                    return self._error(404, f"the model '{body.get('model')}' does not exist; this server serves '{model.name}'", "not_found_error")
                self._send(200, model.complete(body))
            except (RequestError, ValueError) as e:
                self._error(400, str(e), "invalid_request_error")
            except Exception as e:
                self._error(500, f"{type(e).__name__}: {e}", "server_error")

    return Handler


def load(model_dir: str, name: str, max_batch: int) -> ServedModel:
    from . import tiny

    if tiny.is_tiny(model_dir):
        lm, tokenizer = tiny.load(model_dir)
        formatter = tiny.formatter(tokenizer)
        engine = TorchEngine(lm, {tokenizer.end_of_turn_id}, pad_id=0, max_positions=lm.config.max_positions)
        return ServedModel(name, formatter, tokenizer.encode, tokenizer.decode, Batcher(engine, max_batch), max_tokens_default=256)
    from .model import load_hf

    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm, tokenizer = load_hf(model_dir, torch.bfloat16 if device == "cuda" else torch.float32, attn_implementation="sdpa")
    formatter = ChatFormatter.for_hf_tokenizer(tokenizer)
    eos = lm.generation_config.eos_token_id
    stop = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    stop |= {i for i in tokenizer.convert_tokens_to_ids([formatter.end_of_turn]) if i is not None and i != tokenizer.unk_token_id} if formatter.end_of_turn else set()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(stop), 0)
    engine = GenerateEngine(lm, stop, pad, int(getattr(lm.config, "max_position_embeddings", 32768)), device)
    return ServedModel(name, formatter, lambda t: tokenizer(t, add_special_tokens=False)["input_ids"],
                       lambda ids: tokenizer.decode(ids, skip_special_tokens=False), Batcher(engine, max_batch))


def vllm_command(args) -> Optional[list]:
    """vLLM's OpenAI server for a Hugging Face model directory, when vLLM is installed and asked for (or not refused)."""
    from . import tiny

    if args.engine == "torch" or tiny.is_tiny(args.model) or importlib.util.find_spec("vllm") is None:
        if args.engine == "vllm":
            raise RuntimeError("--engine vllm: vLLM is not installed here (or the model is an amdistill tiny model)")
        return None
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", args.model, "--served-model-name", args.name,
            "--host", args.host, "--port", str(args.port), "--reasoning-parser", "deepseek_r1", "--max-num-seqs", str(max(args.max_batch, 256))]


def run(args) -> None:
    command = vllm_command(args)
    if command:
        print(json.dumps({"event": "serving", "engine": "vllm", "model": args.name, "port": args.port}), flush=True)
        os.execv(command[0], command)
    parent = os.getppid()

    def exit_with_parent():  # an orphaned server (its trainer service killed) would hold its port and memory for ever
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    served = load(args.model, args.name, args.max_batch)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(served))
    server.daemon_threads = True
    print(json.dumps({"event": "serving", "engine": "torch", "model": args.name, "port": server.server_address[1]}), flush=True)
    server.serve_forever()
