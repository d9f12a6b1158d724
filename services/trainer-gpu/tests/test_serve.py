import io
import json
import os
import tempfile
import threading
import unittest
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from http.server import ThreadingHTTPServer

import torch

from amdistill_trainer import tiny
from amdistill_trainer.__main__ import main
from amdistill_trainer.serve import Batcher, Sampling, handler_for, load, sample, split_reasoning, until_stop


class Server:
    """A model directory served on a free port in this process, as ``python -m amdistill_trainer serve`` serves it."""

    def __init__(self, model_dir: str, name: str = "tiny", max_batch: int = 8):
        self.model = load(model_dir, name, max_batch)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self.model))
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def post(self, body: dict, path: str = "/v1/chat/completions"):
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.status, json.loads(response.read())

    def close(self):
        self.http.shutdown()
        self.http.server_close()


def ask(question: str, **extra) -> dict:
    return {"model": "tiny", "messages": [{"role": "system", "content": "Think first."}, {"role": "user", "content": question}], **extra}


class ProtocolTest(unittest.TestCase):
    """The chat completions protocol of the fallback engine, on a random tiny model."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        tiny.create(cls.dir, seed=3)
        cls.server = Server(cls.dir, max_batch=16)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_models_and_health(self):
        self.assertEqual(self.server.get("/v1/models")[1]["data"][0]["id"], "tiny")
        self.assertEqual(self.server.get("/health")[1]["status"], "ok")

    def test_n_choices_usage_and_seeded_sampling(self):
        status, body = self.server.post(ask("2+2?", n=3, max_tokens=12, temperature=0.8, top_p=0.9, seed=7))
        self.assertEqual(status, 200)
        self.assertEqual([c["index"] for c in body["choices"]], [0, 1, 2])
        self.assertEqual(body["model"], "tiny")
        self.assertEqual(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"])
        self.assertLessEqual(body["usage"]["completion_tokens"], 36)
        for choice in body["choices"]:
            self.assertIn(choice["finish_reason"], ("stop", "length"))
        again = self.server.post(ask("2+2?", n=3, max_tokens=12, temperature=0.8, top_p=0.9, seed=7))[1]
        self.assertEqual([c["message"] for c in again["choices"]], [c["message"] for c in body["choices"]])
        greedy = [self.server.post(ask("2+2?", max_tokens=12, temperature=0))[1]["choices"][0]["message"] for _ in range(2)]
        self.assertEqual(greedy[0], greedy[1])

    def test_max_completion_tokens_bounds_the_answer(self):
        body = self.server.post(ask("count", max_completion_tokens=5, temperature=1.0, seed=1))[1]
        self.assertLessEqual(body["usage"]["completion_tokens"], 5)

    def test_concurrent_requests_are_sampled_in_batches_with_the_same_answers(self):
        alone = [self.server.post(ask(f"q{i}", max_tokens=10, temperature=0.7, seed=i))[1]["choices"][0]["message"] for i in range(8)]
        before = self.server.model.batcher.batches
        results = [None] * 8

        def worker(i):
            results[i] = self.server.post(ask(f"q{i}", max_tokens=10, temperature=0.7, seed=i))[1]["choices"][0]["message"]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, alone)  # left padding changes nothing
        self.assertLess(self.server.model.batcher.batches - before, 8)

    def test_bad_requests_get_openai_errors(self):
        status, body = self.server.post({"model": "tiny", "messages": "hi"})
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"))
        status, body = self.server.post(ask("x", temperature=5))
        self.assertEqual(status, 400)
        self.assertIn("temperature", body["error"]["message"])
        status, body = self.server.post(ask("x", stream=True))
        self.assertEqual(status, 400)
        status, body = self.server.post({**ask("x"), "model": "gpt-9"})
        self.assertEqual((status, body["error"]["type"]), (404, "not_found_error"))


class EvalSliceTest(unittest.TestCase):
    """The GPU check's evaluation step against a served model: k answers per problem, written for the math verifier."""

    def test_k_answers_per_problem_in_the_verifiers_format(self):
        root = tempfile.mkdtemp()
        tiny.create(os.path.join(root, "m"), seed=1)
        bench = os.path.join(root, "bench.jsonl")
        with open(bench, "w") as f:
            for i in range(3):
                f.write(json.dumps({"id": f"p{i}", "category": "math", "question": f"{i}+1?", "reference_answer": str(i + 1)}) + "\n")
        server = Server(os.path.join(root, "m"), name="m")
        try:
            with redirect_stdout(io.StringIO()) as log:
                code = main(["eval-slice", "--endpoint", server.url + "/v1", "--model", "m", "--benchmark", bench, "--output",
                             os.path.join(root, "out.jsonl"), "--limit", "2", "--k", "3", "--max-tokens", "8"])
        finally:
            server.close()
        self.assertEqual(code, 0)
        summary = json.loads(log.getvalue().splitlines()[-1])
        self.assertEqual((summary["problems"], summary["answers"]), (2, 6))
        with open(os.path.join(root, "out.jsonl")) as f:
            rows = [json.loads(line) for line in f]
        self.assertEqual([r["id"] for r in rows], ["p0"] * 3 + ["p1"] * 3)
        self.assertEqual({r["gold"] for r in rows}, {"1", "2"})
        self.assertTrue(all(isinstance(r["pred"], str) for r in rows))


class ReasoningTest(unittest.TestCase):
    def test_split_like_vllms_deepseek_r1_parser(self):
        self.assertEqual(split_reasoning("<think>\nplan\n</think>\n\n42", False), ("plan", "42"))
        self.assertEqual(split_reasoning("plan</think>42", True), ("plan", "42"))
        self.assertEqual(split_reasoning("plan</think>42", False), ("plan", "42"))
        self.assertEqual(split_reasoning("<think>cut off mid-thought", False), ("cut off mid-thought", ""))
        self.assertEqual(split_reasoning("just an answer", False), (None, "just an answer"))

    def test_a_generated_row_ends_at_its_first_stop_token(self):
        self.assertEqual(until_stop([5, 6, 2, 0, 0], {2}), ([5, 6], "stop"))   # then padding
        self.assertEqual(until_stop([5, 6, 7], {2, 3}), ([5, 6, 7], "length"))
        self.assertEqual(until_stop([3], {2, 3}), ([], "stop"))

    def test_top_p_keeps_the_smallest_prefix(self):
        logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
        g = torch.Generator().manual_seed(0)
        drawn = {sample(logits, Sampling(1.0, 0.7, 1), g) for _ in range(300)}
        self.assertEqual(drawn, {0, 1})
        self.assertEqual(sample(logits, Sampling(0.0, 1.0, 1), g), 0)

    def test_a_failing_engine_fails_its_requests_not_the_server(self):
        class Broken:
            def generate(self, batch):
                raise RuntimeError("out of memory")

        batcher = Batcher(Broken())
        from amdistill_trainer.serve import Sequence

        with self.assertRaisesRegex(RuntimeError, "out of memory"):
            batcher.submit([Sequence([1, 2], Sampling(1, 1, 4), 0)])


class TrainThenServeTest(unittest.TestCase):
    """``train`` on a tiny model directory writes a model that ``serve`` loads and answers with what it learned:
    the trained format (thinking, then the answer, then the end of turn) comes back split as the teachers' is."""

    def test_the_trained_model_answers_what_it_learned(self):
        root = tempfile.mkdtemp()
        base, data, out = os.path.join(root, "base"), os.path.join(root, "train.jsonl"), os.path.join(root, "out")
        tiny.create(base, seed=0)
        with open(data, "w") as f:
            for i in range(32):
                f.write(json.dumps({"messages": [{"role": "user", "content": f"{i} + {i}"},
                                                 {"role": "assistant", "content": "<think>ok</think>\\boxed{7}"}]}) + "\n")
        with redirect_stdout(io.StringIO()) as log:
            code = main(["train", "--data", data, "--base-model", base, "--output", out, "--learning-rate", "1e-2",
                         "--epochs", "30", "--max-length", "512", "--global-batch", "2"])
        events = [json.loads(line) for line in log.getvalue().splitlines()]
        self.assertEqual(code, 0, events[-1])
        self.assertEqual(events[-1]["event"], "done")
        self.assertTrue(tiny.is_tiny(os.path.join(out, "model")))

        server = Server(os.path.join(out, "model"), name="tiny")
        try:
            body = server.post({"model": "tiny", "messages": [{"role": "user", "content": "5 + 5"}], "temperature": 0, "max_tokens": 64})[1]
        finally:
            server.close()
        choice = body["choices"][0]
        self.assertEqual((choice["message"].get("reasoning_content"), choice["message"]["content"], choice["finish_reason"]),
                         ("ok", "\\boxed{7}", "stop"))


if __name__ == "__main__":
    unittest.main()
