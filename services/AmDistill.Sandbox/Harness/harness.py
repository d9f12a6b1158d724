# AmDistill's test harness, run inside the sandbox. It reads its job (JSON) from stdin before any untrusted code runs,
# runs the program against every test in this one process (a sandbox start costs more than a small test), and reports
# each test as one line "<nonce> <json>" on a private copy of stdout. Expected outputs never enter the sandbox: the
# verifier compares outside. A program that exits, crashes or hangs leaves its remaining tests without a result, which
# the verifier counts as failures, so os._exit(0) cannot fake a pass.
import builtins, io, json, os, signal, sys

job = json.loads(sys.stdin.read())
nonce = job["nonce"]
results = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 1)
os.dup2(devnull, 2)
sys.setrecursionlimit(10000)
LIMIT = job.get("output_limit", 1 << 20)


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


signal.signal(signal.SIGALRM, _alarm)


def report(i, status, out="", err=""):
    results.write(nonce + " " + json.dumps({"i": i, "status": status, "out": out[:LIMIT], "err": err[-2000:]}) + "\n")
    results.flush()


def run(fn, stdin_text=""):
    """(status, stdout, error) of fn() with patched stdin/stdout and the per-test time limit."""
    out = io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin_text.encode()), encoding="utf-8")
    sys.stdout = out
    signal.setitimer(signal.ITIMER_REAL, job["timeout"])
    try:
        value = fn()
        return "ok", out.getvalue(), "", value
    except SystemExit as e:
        return ("ok" if e.code in (0, None) else "error"), out.getvalue(), f"SystemExit({e.code})", None
    except _Timeout:
        return "timeout", out.getvalue(), "time limit", None
    except MemoryError:
        return "memory", out.getvalue(), "MemoryError", None
    except BaseException as e:  # the program's own failure, whatever it raised
        return "error", out.getvalue(), f"{type(e).__name__}: {e}", None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout = sys.__stdout__


# LiveCodeBench's runner (lcb_runner/evaluation/testing_util.py) runs every stdio and LeetCode-style solution after
# these imports, and so do LeetCode's judges: real solutions use List, deque, heapq, gcd, ... without importing them.
IMPORTS = compile("""
from string import *
from re import *
from datetime import *
from collections import *
from heapq import *
from bisect import *
from copy import *
from math import *
from random import *
from statistics import *
from itertools import *
from functools import *
from operator import *
from io import *
from sys import *
from json import *
from builtins import *
from typing import *
import string, re, datetime, collections, heapq, bisect, copy, math, random, statistics, itertools, functools, operator, io, sys, json
""", "<imports>", "exec")


def fresh(imports=False):
    scope = {"__name__": "__main__", "__builtins__": builtins}
    if imports:  # run where the program runs: "from sys import *" binds this test's stdin
        exec(IMPORTS, scope)
    return scope


def run_compiled():
    """C++: compiled once, then each test in its own process (the program never shares the harness's memory)."""
    import subprocess
    with open("/tmp/main.cpp", "w") as f:
        f.write(job["code"])
    try:
        build = subprocess.run(["g++", "-O2", "-std=c++17", "-o", "/tmp/prog", "/tmp/main.cpp"], capture_output=True, text=True, timeout=job.get("compile_timeout", 10))
        failure = None if build.returncode == 0 else "compile: " + build.stderr[-1500:]
    except subprocess.TimeoutExpired:
        failure = "compile: time limit"
    except OSError as e:
        failure = f"compile: {e}"
    for i, stdin_text in enumerate(job["inputs"]):
        if failure:
            report(i, "error", err=failure)
            continue
        try:
            done = subprocess.run(["/tmp/prog"], input=stdin_text.encode(), capture_output=True, timeout=job["timeout"])
            out = done.stdout.decode("utf-8", "replace")
            if done.returncode == 0:
                report(i, "ok", out)
            else:
                signal_name = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
                report(i, "memory" if b"bad_alloc" in done.stderr else "error", out, f"{signal_name}: {done.stderr.decode('utf-8', 'replace')[-500:]}")
        except subprocess.TimeoutExpired:
            report(i, "timeout", err="time limit")


def main():
    mode = job["mode"]
    if job.get("language") == "cpp":
        return run_compiled()
    source = job["code"]
    if mode == "asserts":  # the setup lines (imports) and the prelude (HumanEval's signature) come first
        source = "\n".join(job.get("setup", [])) + "\n" + (job.get("prelude") or "") + "\n" + source
    try:
        program = compile(source, "<solution>", "exec")
    except BaseException as e:
        for i in range(job["count"]):
            report(i, "error", err=f"compile: {type(e).__name__}: {e}")
        return

    if mode == "stdio":
        for i, stdin_text in enumerate(job["inputs"]):
            status, out, err, _ = run(lambda: exec(program, fresh(imports=True)), stdin_text)
            report(i, status, out, err)
    elif mode == "functional":
        scope = {}
        status, _, err, _ = run(lambda: (scope.update(fresh(imports=True)), exec(program, scope)))
        if status != "ok":
            for i in range(job["count"]):
                report(i, status, err=err)
            return
        name = job["fn_name"]
        target = getattr(scope["Solution"](), name) if "Solution" in scope else scope.get(name)
        for i, text in enumerate(job["inputs"]):
            args = [json.loads(line) for line in text.split("\n") if line.strip()]
            status, _, err, value = run(lambda: target(*args))
            if status == "ok":
                try:
                    out = json.dumps(list(value) if isinstance(value, tuple) else value)
                except BaseException as e:
                    status, out, err = "error", "", f"result is not JSON: {e}"
            else:
                out = ""
            report(i, status, out, err)
    else:  # asserts: the program (after the setup lines), then each test against its definitions
        scope = fresh()
        status, _, err, _ = run(lambda: exec(program, scope))
        for i, test in enumerate(job["tests"]):
            if status != "ok":
                report(i, status, err=err)
                continue
            s, _, e, _ = run(lambda: exec(compile(test, f"<test {i}>", "exec"), scope))
            report(i, "failed" if s == "error" and e.startswith("AssertionError") else s, err=e)


main()
results.write(nonce + " " + json.dumps({"done": True}) + "\n")
results.flush()
os._exit(0)
