"""How many asserts of MBPP and HumanEval the harness checks itself (the expected side never enters the worker).

    python3 tests/harness-asserts/count.py        # from the repository root
"""
import ast, builtins, json, operator, os

root = os.path.join(os.path.dirname(__file__), "..", "..")
source = open(os.path.join(root, "services", "AmDistill.Sandbox", "Harness", "harness.py")).read()
# The harness's own assert tooling, without running the harness.
tools = source[source.index("def assert_tools():"):source.index("# ---------- modes ----------")]
scope = {"ast": ast, "builtins": builtins, "operator": operator}
exec(tools, scope)
rewrite, _ = scope["assert_tools"]()

for name in ("mbpp.jsonl", "humaneval.jsonl"):
    total = rewritten = 0
    for line in open(os.path.join(root, "data", "benchmarks", name)):
        tests = json.loads(line)["test_cases"]
        for test in tests["test_list"] if tests["type"] == "assert" else [tests["test"] + "\ncheck(candidate)"]:
            asserts = sum(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(test)))
            left = sum(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(rewrite(test)[0])))
            total, rewritten = total + asserts, rewritten + asserts - left
    print(f"{name}: {rewritten} of {total} asserts checked by the harness ({100 * rewritten / total:.1f} %)")
