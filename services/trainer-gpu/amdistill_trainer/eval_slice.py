"""``python -m amdistill_trainer eval-slice``: ask a served model k answers to the first problems of a benchmark file
(the repository's query schema) and write them as ``amdistill verify math`` reads them — ``{id, gold, pred}`` — so
that the same verifier as the data grades them; prints the generation throughput. The GPU check's evaluation step,
where no pipeline runs."""
from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def ask(endpoint: str, model: str, question: str, k: int, max_tokens: int, seed: int) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": question + "\nPlease reason step by step, and put your final answer within \\boxed{}."}],
            "n": k, "max_tokens": max_tokens, "temperature": 0.6, "top_p": 0.95, "seed": seed}
    request = urllib.request.Request(endpoint.rstrip("/") + "/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())


def run(args) -> dict:
    with open(args.benchmark) as f:
        problems = [json.loads(line) for line in f if line.strip()][: args.limit]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        answers = list(pool.map(lambda p: ask(args.endpoint, args.model, p[1]["question"], args.k, args.max_tokens, p[0]), enumerate(problems)))
    seconds = time.perf_counter() - started
    with open(args.output, "w") as out:
        for problem, answer in zip(problems, answers):
            for choice in answer["choices"]:
                out.write(json.dumps({"id": problem["id"], "gold": problem["reference_answer"], "pred": choice["message"]["content"] or "",
                                      "finish_reason": choice["finish_reason"]}) + "\n")
    tokens = sum(a["usage"]["completion_tokens"] for a in answers)
    summary = {"event": "eval", "model": args.model, "problems": len(problems), "k": args.k, "answers": len(problems) * args.k,
               "completion_tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1), "output": args.output}
    print(json.dumps(summary), flush=True)
    return summary
