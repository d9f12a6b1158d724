"""Grades responses with the official IFEval implementation, writing `amdistill verify if` input lines with the
official verdicts as `expected_strict` / `expected_loose`.

Needs google-research's `instruction_following_eval` package on the path (IFEVAL_ROOT: the folder that holds it),
langdetect, nltk with its `punkt` model, absl-py and immutabledict. langdetect samples at random; SEED (default 0)
is `DetectorFactory.seed`, the seed AmDistill's port uses.

    python3 grade.py input_data.jsonl responses.jsonl graded.jsonl

input_data.jsonl: IFEval's prompts (`key`, `prompt`, `instruction_id_list`, `kwargs`); responses.jsonl: `prompt`,
`response` (IFEval's input_response_data format). A response whose prompt changed upstream is matched on the
prompt's first 120 characters.
"""
import json
import os
import sys

sys.path.insert(0, os.environ.get("IFEVAL_ROOT", "."))
import langdetect  # noqa: E402

langdetect.DetectorFactory.seed = int(os.environ.get("SEED", "0"))
from instruction_following_eval import instructions_registry  # noqa: E402


def verdicts(inp, response, loose):
    """evaluation_lib's strict and loose tests, as written there."""
    if loose:
        r = response.split("\n")
        first, last, both = "\n".join(r[1:]).strip(), "\n".join(r[:-1]).strip(), "\n".join(r[1:-1]).strip()
        variants = [response, response.replace("*", ""), first, last, both,
                    first.replace("*", ""), last.replace("*", ""), both.replace("*", "")]
    else:
        variants = [response]
    out = []
    for i, iid in enumerate(inp["instruction_id_list"]):
        instruction = instructions_registry.INSTRUCTION_DICT[iid](iid)
        instruction.build_description(**{k: v for k, v in inp["kwargs"][i].items() if v})
        args = instruction.get_instruction_args()
        if args and "prompt" in args:
            instruction.build_description(prompt=inp["prompt"])
        out.append(any(v.strip() and instruction.check_following(v) for v in variants))
    return out


def main(inputs_path, responses_path, out_path):
    responses = {}
    for line in open(responses_path, encoding="utf-8"):
        r = json.loads(line)
        responses[r["prompt"]] = r["response"]
    with open(out_path, "w", encoding="utf-8") as out:
        for line in open(inputs_path, encoding="utf-8"):
            inp = json.loads(line)
            response = responses.get(inp["prompt"]) or next(
                v for k, v in responses.items() if k[:120] == inp["prompt"][:120])
            out.write(json.dumps({
                "key": inp["key"], "instruction_id_list": inp["instruction_id_list"],
                "kwargs": [{k: v for k, v in kw.items() if v is not None} for kw in inp["kwargs"]],
                "response": response,
                "expected_strict": verdicts(inp, response, False),
                "expected_loose": verdicts(inp, response, True),
            }, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
