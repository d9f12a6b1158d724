import json
import os
import tempfile
import unittest

import numpy as np

from amdistill_trainer.dataset import TokenizedDataset, build_row, pack, plan_rows, rows_of_step, tokenize_file
from amdistill_trainer.formatting import IGNORE, THINK_OPEN, ChatFormatter, chatml
from amdistill_trainer.records import Conversation, RecordError, parse_record, read_jsonl, split_thinking

from amdistill_trainer.tiny import CharTokenizer, formatter


def messages(question, thinking, answer):
    return {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": f"<think>\n{thinking}\n</think>\n\n{answer}"}]}


class RecordsTest(unittest.TestCase):
    def test_chat_messages_with_inline_thinking(self):
        c = parse_record(messages("1+1?", "one and one", "2"))
        self.assertEqual(c, Conversation([{"role": "user", "content": "1+1?"}], "one and one", "2"))

    def test_reasoning_content_field(self):
        c = parse_record({"messages": [{"role": "user", "content": "q"},
                                       {"role": "assistant", "content": "a", "reasoning_content": "r"}]})
        self.assertEqual((c.thinking, c.answer), ("r", "a"))

    def test_sharegpt(self):
        c = parse_record({"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"},
                                            {"from": "gpt", "value": "<think>t</think>a"}]})
        self.assertEqual(c.context, [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}])
        self.assertEqual((c.thinking, c.answer), ("t", "a"))

    def test_am_schema_answer_tags(self):
        c = parse_record({"question": "q", "answer": "<think>\nlet me see\n</think> <answer>\\boxed{4}</answer>"})
        self.assertEqual((c.thinking, c.answer), ("let me see", "\\boxed{4}"))

    def test_multi_turn_keeps_earlier_answers_without_their_thinking(self):
        c = parse_record({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "<think>x</think>b"},
                                       {"role": "user", "content": "c"}, {"role": "assistant", "content": "<think>y</think>d"}]})
        self.assertEqual(c.context[1], {"role": "assistant", "content": "b"})
        self.assertEqual((c.thinking, c.answer), ("y", "d"))

    def test_bad_records_say_why(self):
        for record, reason in [({"messages": [{"role": "user", "content": "q"}]}, "not an assistant turn"),
                               ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>t</think>"}]}, "no answer"),
                               ({"text": "x"}, "no 'messages'")]:
            with self.assertRaisesRegex(RecordError, reason):
                parse_record(record)

    def test_read_jsonl_reports_each_bad_line_with_its_number(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(json.dumps(messages("q", "t", "a")) + "\n{not json\n\n" + json.dumps({"text": 1}) + "\n")
        results = list(read_jsonl(f.name))
        os.unlink(f.name)
        self.assertEqual([(n, c is not None) for n, c, _ in results], [(1, True), (2, False), (4, False)])
        self.assertIn("JSONDecodeError", results[1][2])

    def test_split_thinking_without_think(self):
        self.assertEqual(split_thinking("just an answer"), ("", "just an answer"))


class FormattingTest(unittest.TestCase):
    def setUp(self):
        self.tok = CharTokenizer()

    def test_target_is_the_final_turn_with_its_thinking_and_end_of_turn(self):
        f = formatter(self.tok)
        self.assertEqual(f.end_of_turn, "<|im_end|>")
        e = f.encode(parse_record(messages("q?", "think hard", "42")))
        self.assertEqual(self.tok.decode(e.input_ids[:e.prompt_length]), "<|im_start|>user\nq?<|im_end|>\n<|im_start|>assistant\n")
        self.assertEqual(self.tok.decode(e.input_ids[e.prompt_length:]), "<think>\nthink hard\n</think>\n\n42<|im_end|>")

    def test_template_that_opens_the_think_block_is_not_doubled(self):
        def r1_template(msgs, gen):  # newer DeepSeek-R1-Distill templates end the generation prompt with <think>\n
            text = "".join(("<|User|>" if m["role"] == "user" else "<|Assistant|>") + m["content"] for m in msgs)
            return text + ("<|Assistant|><think>\n" if gen else "<eos>")
        f = ChatFormatter(r1_template, self.tok.encode)
        self.assertTrue(f.prompt_opens_think)
        self.assertEqual(f.end_of_turn, "<eos>")
        text = f.target_text(Conversation([{"role": "user", "content": "q"}], "t", "a"))
        self.assertFalse(text.lstrip().startswith(THINK_OPEN))
        self.assertEqual(text, "\nt\n</think>\n\na<eos>")


class DatasetTest(unittest.TestCase):
    def setUp(self):
        self.tok = CharTokenizer()
        self.dir = tempfile.mkdtemp()
        self.data = os.path.join(self.dir, "train.jsonl")
        with open(self.data, "w") as f:
            for i in range(30):
                f.write(json.dumps(messages(f"question {i}", "x" * (5 * i), f"answer {i}")) + "\n")
            f.write("not json\n")

    def test_over_long_samples_are_dropped_not_truncated(self):
        f = formatter(self.tok)
        lengths = [len(f.encode(parse_record(messages(f"question {i}", "x" * (5 * i), f"answer {i}"))).input_ids) for i in range(30)]
        limit = sorted(lengths)[20]
        stats = tokenize_file(self.data, f, os.path.join(self.dir, "tok"), max_length=limit)
        self.assertEqual(stats.dropped_too_long, sum(n > limit for n in lengths))
        self.assertEqual(stats.dropped_invalid, 1)
        self.assertIn("line 31", stats.errors[0])
        ds = TokenizedDataset(os.path.join(self.dir, "tok"))
        self.assertEqual(sorted(ds.lengths.tolist()), sorted(n for n in lengths if n <= limit))  # kept ones whole

    def test_packing_fills_bins_without_splitting_samples(self):
        rng = np.random.default_rng(1)
        lengths = rng.integers(1, 1000, 5000).tolist()
        bins = pack(lengths, 1024, window=1000)
        self.assertEqual(sorted(i for b in bins for i in b), list(range(5000)))
        self.assertTrue(all(sum(lengths[i] for i in b) <= 1024 for b in bins))
        self.assertLess(len(bins), sum(lengths) / 1024 * 1.03)  # best-fit-decreasing: within 3% of the bound

    def test_packed_row_restarts_positions_and_never_predicts_across_samples(self):
        f = formatter(self.tok)
        tokenize_file(self.data, f, os.path.join(self.dir, "tok"), max_length=10_000)
        ds = TokenizedDataset(os.path.join(self.dir, "tok"))
        row = build_row(ds, [3, 7, 11])
        ends = np.cumsum(row.lengths)
        self.assertEqual(row.position_ids.tolist(), [p for n in row.lengths for p in range(n)])
        for start, end, i in zip([0, *ends[:-1]], ends, [3, 7, 11]):
            tokens, prompt = ds.sample(i)
            self.assertEqual(row.labels[end - 1], IGNORE)  # the last position of a sample predicts nothing
            self.assertTrue((row.labels[start:start + prompt - 1] == IGNORE).all())  # the prompt is not a target
            self.assertEqual(row.labels[start + prompt - 1:end - 1].tolist(), tokens[prompt:].tolist())
        self.assertEqual(row.target_tokens, sum(int(ds.sample(i)[0].size - ds.sample(i)[1]) for i in [3, 7, 11]))

    def test_rows_cover_each_epoch_and_split_evenly_over_ranks(self):
        tokenize_file(self.data, formatter(self.tok), os.path.join(self.dir, "tok"), max_length=10_000)
        ds = TokenizedDataset(os.path.join(self.dir, "tok"))
        rows = plan_rows(ds, 10_000, packing=False, epochs=2, seed=3)
        self.assertEqual(sorted(r[0] for r in rows[:30]), list(range(30)))
        self.assertNotEqual(rows[:30], rows[30:])  # each epoch has its own order
        self.assertEqual(rows_of_step(rows, 0, 8, 1, 2), rows[1:8:2])
        self.assertIsNone(rows_of_step(rows, 8, 8, 0, 2))


if __name__ == "__main__":
    unittest.main()
