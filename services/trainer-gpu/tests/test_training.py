import io
import json
import os
import tempfile
import unittest

import torch

from amdistill_trainer.flops import mfu, peak_tflops, training_flops
from amdistill_trainer.loss import linear_cross_entropy_sum, reference_cross_entropy_sum
from amdistill_trainer.model import CausalLMLoss, block_causal_mask, isolation_gap, matmul_params
from amdistill_trainer.progress import Progress
from amdistill_trainer.recipe import RECIPES, learning_rate_at, warmup_steps
from amdistill_trainer.train import TrainConfig, train

from amdistill_trainer.tiny import CharTokenizer, TinyCausalLM, formatter


class ScheduleTest(unittest.TestCase):
    def test_paper_recipes(self):
        s1, s2 = RECIPES["stage1"], RECIPES["stage2"]
        self.assertEqual((s1.learning_rate, s1.epochs, s1.packing, s1.max_length, s1.global_batch, s1.warmup_ratio), (8e-5, 1, True, 32768, 64, 0.05))
        self.assertEqual((s2.learning_rate, s2.epochs, s2.packing), (8e-6, 2, False))

    def test_linear_warmup_over_5_percent_then_cosine_to_zero(self):
        total, peak = 1000, 8e-5
        self.assertEqual(warmup_steps(total, 0.05), 50)
        self.assertAlmostEqual(learning_rate_at(1, total, peak), peak / 50)
        self.assertAlmostEqual(learning_rate_at(25, total, peak), peak / 2)
        self.assertAlmostEqual(learning_rate_at(50, total, peak), peak)
        self.assertAlmostEqual(learning_rate_at(525, total, peak), peak / 2)  # halfway through the decay
        self.assertAlmostEqual(learning_rate_at(1000, total, peak), 0.0)
        decay = [learning_rate_at(s, total, peak) for s in range(50, 1001)]
        self.assertTrue(all(a >= b for a, b in zip(decay, decay[1:])))

    def test_short_runs_still_warm_up(self):
        self.assertEqual(warmup_steps(10, 0.05), 1)
        self.assertAlmostEqual(learning_rate_at(1, 10, 1.0), 1.0)
        self.assertAlmostEqual(learning_rate_at(10, 10, 1.0), 0.0)


class LossTest(unittest.TestCase):
    def test_chunked_loss_and_gradients_equal_the_plain_computation(self):
        torch.manual_seed(0)
        hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
        weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
        labels = torch.randint(0, 50, (37,))
        labels[:5] = -100
        labels[20:30] = -100
        got = linear_cross_entropy_sum(hidden, weight, labels, chunk_size=8)
        g_hidden, g_weight = torch.autograd.grad(2.5 * got, (hidden, weight))
        want = reference_cross_entropy_sum(hidden, weight, labels)
        w_hidden, w_weight = torch.autograd.grad(2.5 * want, (hidden, weight))
        self.assertAlmostEqual(got.item(), want.item(), places=8)
        self.assertTrue(torch.allclose(g_hidden, w_hidden, atol=1e-10))
        self.assertTrue(torch.allclose(g_weight.double(), w_weight, atol=1e-6))

    def test_all_ignored_is_zero(self):
        hidden = torch.randn(4, 8, requires_grad=True)
        weight = torch.randn(10, 8, requires_grad=True)
        loss = linear_cross_entropy_sum(hidden, weight, torch.full((4,), -100))
        loss.backward()
        self.assertEqual(loss.item(), 0.0)
        self.assertEqual(hidden.grad.abs().sum().item(), 0.0)


class PackingIsolationTest(unittest.TestCase):
    def test_block_causal_mask(self):
        m = block_causal_mask([2, 3], "cpu")[0, 0].int().tolist()
        self.assertEqual(m, [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]])

    def test_packed_sample_sees_only_itself(self):
        torch.manual_seed(0)
        module = CausalLMLoss(TinyCausalLM(64)).eval()
        self.assertLess(isolation_gap(module, 64, "cpu", "position_ids"), 1e-5)
        self.assertLess(isolation_gap(module, 64, "cpu", "block_mask"), 1e-5)


class FlopsTest(unittest.TestCase):
    def test_formula_and_peak_table(self):
        self.assertEqual(training_flops(100, 2, 8, [3, 4]), 6 * 100 * 7 + 6 * 2 * 8 * (9 + 16))
        self.assertEqual(peak_tflops("NVIDIA H200"), 989.4)
        self.assertEqual(peak_tflops("NVIDIA H100 80GB HBM3"), 989.4)
        self.assertIsNone(peak_tflops("Some GPU"))
        self.assertAlmostEqual(mfu(989.4e12, 1.0, 1, 989.4), 1.0)

    def test_matmul_params_count_the_output_matrix_not_the_embedding(self):
        lm = TinyCausalLM(64, hidden=8)
        total = sum(p.numel() for p in lm.parameters())
        self.assertEqual(matmul_params(lm), total - 64 * 8)


class _Crash(Exception):
    pass


class TrainingTest(unittest.TestCase):
    """The whole loop on CPU: a tiny model learns a toy task; a crash resumes from its checkpoint bit for bit."""

    def setUp(self):
        self.tok = CharTokenizer()
        self.dir = tempfile.mkdtemp()
        self.data = os.path.join(self.dir, "train.jsonl")
        with open(self.data, "w") as f:
            for i in range(48):
                a, b = i % 7, i % 5
                f.write(json.dumps({"messages": [{"role": "user", "content": f"{a}+{b}"},
                                                 {"role": "assistant", "content": f"<think>{a} plus {b}</think>{a + b}"}]}) + "\n")

    def run_training(self, output, recipe, max_steps=0, save_every=0, stop_after=None):
        torch.manual_seed(0)
        lm = TinyCausalLM(len(self.tok))
        saved = {}
        stream = io.StringIO()

        class Stopping(Progress):
            def emit(inner, event, **fields):
                super().emit(event, **fields)
                if stop_after and event == "step" and fields["step"] == stop_after:
                    raise _Crash()

        config = TrainConfig(self.data, output, recipe, save_every=save_every, max_steps=max_steps, loss_chunk=64)
        try:
            train(config, lm, formatter(self.tok), len(self.tok), lambda state, d: saved.update(state=state, dir=d), Stopping(stream=stream))
        except _Crash:
            pass
        events = [json.loads(line) for line in stream.getvalue().splitlines()]
        return events, saved

    def test_stage1_packs_learns_and_follows_the_schedule(self):
        recipe = RECIPES["stage1"].with_overrides(learning_rate=3e-3, max_length=256, global_batch=2, epochs=20)
        events, saved = self.run_training(os.path.join(self.dir, "out"), recipe)
        start, steps, done = events[0], [e for e in events if e["event"] == "step"], events[-1]
        self.assertEqual(start["mask_mode"], "position_ids")
        self.assertEqual(start["tokenize"]["samples"], 48)
        self.assertEqual(len(steps), start["steps"])
        self.assertLess(steps[-1]["loss"], 0.5 * steps[0]["loss"])
        for e in steps:
            self.assertAlmostEqual(e["lr"], learning_rate_at(e["step"], start["steps"], 3e-3, 0.05))
            self.assertGreater(e["tokens"], 2 * 12)  # packed rows hold several samples
        self.assertEqual(done["event"], "done")
        self.assertEqual(saved["dir"], os.path.join(self.dir, "out", "model"))
        self.assertIn("lm_head.weight", saved["state"])

    def test_a_global_batch_that_does_not_divide_across_the_gpus_is_refused_before_training(self):
        from unittest import mock
        recipe = RECIPES["stage1"].with_overrides(max_length=256, global_batch=3)
        with mock.patch("torch.distributed.is_initialized", return_value=True), \
                mock.patch("torch.distributed.get_rank", return_value=0), mock.patch("torch.distributed.get_world_size", return_value=2):
            with self.assertRaisesRegex(ValueError, "global batch 3 does not divide evenly across 2 GPUs"):
                self.run_training(os.path.join(self.dir, "uneven"), recipe)

    def test_stage2_one_sample_per_row(self):
        recipe = RECIPES["stage2"].with_overrides(max_length=256, global_batch=4)
        events, _ = self.run_training(os.path.join(self.dir, "out2"), recipe)
        start = events[0]
        self.assertEqual((start["rows"], start["steps"], start["mask_mode"]), (96, 24, "position_ids"))

    def test_resume_after_a_crash_continues_exactly(self):
        recipe = RECIPES["stage1"].with_overrides(learning_rate=3e-3, max_length=128, global_batch=2, epochs=3)
        straight, _ = self.run_training(os.path.join(self.dir, "a"), recipe)
        losses = {e["step"]: e["loss"] for e in straight if e["event"] == "step"}
        self.assertGreaterEqual(len(losses), 6)

        crashed, _ = self.run_training(os.path.join(self.dir, "b"), recipe, save_every=2, stop_after=5)
        self.assertEqual([e["step"] for e in crashed if e["event"] == "checkpoint"], [2, 4])
        resumed, saved = self.run_training(os.path.join(self.dir, "b"), recipe, save_every=2)
        self.assertEqual(resumed[0]["resumed_at"], 4)
        after = {e["step"]: e["loss"] for e in resumed if e["event"] == "step"}
        self.assertEqual(min(after), 5)
        for step, loss in after.items():
            self.assertAlmostEqual(loss, losses[step], places=5)
        self.assertIn("state", saved)


if __name__ == "__main__":
    unittest.main()
