# AmDistill's test harness, run inside the sandbox. Two processes, so that the untrusted program can never write a
# verdict:
#
# - this one (the harness) reads the job from stdin, makes itself undumpable (the program cannot open its /proc files
#   or read its memory), keeps the nonce and the result channel (a private copy of stdout), and never runs untrusted code;
# - a worker, forked before the harness has read the job or kept the result channel (so it inherits neither: no
#   descriptor but its two pipes), or a fresh interpreter when a worker must be replaced, loads the program and answers
#   one request at a time: run it on an input, call a function, run a test. Whatever it answers is only data: outputs are compared outside the sandbox against expected outputs that never
#   enter it, and an assert with a side the harness can evaluate itself (`assert f(2) == 4`, `assert not g(3)`) is
#   rewritten so that the worker reports the value and the harness compares. A worker that dies or hangs costs its
#   test, and a new one takes the next.
#
# Each result is one line "<nonce> <json>" on the result channel. A test without a result counts as failed outside.
import builtins, ctypes, json, operator, os, select, sys, time

# LiveCodeBench's runner (lcb_runner/evaluation/testing_util.py) runs every stdio and LeetCode-style solution after
# these imports, and so do LeetCode's judges: real solutions use List, deque, heapq, gcd, ... without importing them.
IMPORTS_SOURCE = """
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
"""


def worker_main():
    """The worker: answers the harness's requests one at a time, running the untrusted program."""
    import builtins, io, json, os, signal, sys
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.setrecursionlimit(10000)
    LIMIT = 1 << 20

    class _Timeout(BaseException):
        pass

    def _alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, _alarm)

    IMPORTS = compile(IMPORTS_SOURCE, "<imports>", "exec")

    values = []

    _bool, _dict, _list, _tuple, _set, _frozenset = bool, dict, list, tuple, set, frozenset

    def _plain(v, depth=0):
        """The value as plain literals (a Counter as its dict, numpy as lists) so the harness can read it back; Python's
        == between them is unchanged."""
        if depth > 50:
            return v
        if type(v).__module__ == "numpy" and hasattr(v, "tolist"):
            return v.tolist()
        if isinstance(v, _dict) and type(v) is not _dict:
            return _dict((_plain(k, depth + 1), _plain(x, depth + 1)) for k, x in v.items())
        if isinstance(v, (_list, _tuple, _set, _frozenset)) and type(v) not in (_list, _tuple, _set, _frozenset):
            base = next(b for b in (_list, _tuple, _frozenset, _set) if isinstance(v, b))
            return base(_plain(x, depth + 1) for x in v)
        return v

    def report_value(k, v, truth=False):
        if len(values) < 10000:
            values.append([k, repr(_bool(v) if truth else _plain(v))[:LIMIT]])

    def fresh(imports):
        scope = {"__name__": "__main__", "__builtins__": builtins}
        if imports:  # run where the program runs: "from sys import *" binds this test's stdin
            exec(IMPORTS, scope)
        scope["__amd_value__"] = report_value
        return scope

    def run(fn, stdin_text, timeout):
        out = io.StringIO()
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin_text.encode()), encoding="utf-8")
        sys.stdout = out
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            value = fn()
            return "ok", out.getvalue(), "", value
        except SystemExit as e:
            return ("ok" if e.code in (0, None) else "error"), out.getvalue(), "SystemExit(%s)" % (e.code,), None
        except _Timeout:
            return "timeout", out.getvalue(), "time limit", None
        except MemoryError:
            return "memory", out.getvalue(), "MemoryError", None
        except BaseException as e:  # the program's own failure, whatever it raised
            return "error", out.getvalue(), "%s: %s" % (type(e).__name__, e), None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout = sys.__stdout__

    scope = {}
    program = None
    for line in requests:
        request = json.loads(line)
        op, timeout = request["op"], request["timeout"]
        del values[:]
        value = None
        if op == "load":
            try:
                program = compile(request["code"], "<solution>", "exec")
                status, out, err = "ok", "", ""
            except BaseException as e:
                program, status, out, err = None, "error", "", "compile: %s: %s" % (type(e).__name__, e)
            if program is not None and request["run"]:
                scope = fresh(request["imports"])
                status, out, err, _ = run(lambda: exec(program, scope), "", timeout)
        elif op == "stdio":
            status, out, err, _ = run(lambda: exec(program, fresh(True)), request["stdin"], timeout)
        elif op == "call":
            name = request["fn"]
            try:
                target = getattr(scope["Solution"](), name) if "Solution" in scope else scope[name]
                args = [json.loads(a) for a in request["args"].split("\n") if a.strip()]
                status, out, err, value = run(lambda: target(*args), "", timeout)
            except BaseException as e:
                status, out, err = "error", "", "%s: %s" % (type(e).__name__, e)
            if status == "ok":
                try:
                    out = json.dumps(list(value) if isinstance(value, tuple) else value)
                except BaseException as e:
                    status, out, err = "error", "", "result is not JSON: %s" % (e,)
            else:
                out = ""
        else:  # "test": a test's statements against the program's definitions
            status, out, err, _ = run(lambda: exec(compile(request["source"], "<test>", "exec"), scope), "", timeout)
            if status == "error" and err.startswith("AssertionError"):
                status = "failed"
        replies.write(json.dumps({"status": status, "out": out[:LIMIT], "err": err[-2000:], "values": values}) + "\n")
        replies.flush()


# ---------- the harness: nothing below runs untrusted code ----------

if sys.argv[1:] == ["--worker"]:  # a replacement worker, started as a fresh interpreter
    worker_main()
    os._exit(0)


def fork_worker():
    """The first worker, forked now: the job is still unread on stdin and no secret exists yet (a fork is ~30 ms faster
    than a new interpreter)."""
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(requests_r, 0)
            os.dup2(replies_w, 1)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            # Every other descriptor stays the harness's (the job is on its stdin, the result channel its stdout);
            # listed, since closerange(3, 65536) costs 25 ms of system calls here.
            for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
                if fd > 2:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            worker_main()
        finally:
            os._exit(0)
    os.close(requests_r)
    os.close(replies_w)
    return pid, requests_w, replies_r


first_worker = fork_worker()
try:  # before any secret exists here: the program cannot open this process's /proc files or read its memory
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
except Exception:
    pass
job = json.loads(sys.stdin.read())
nonce = job["nonce"]
results = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")
devnull = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(devnull, fd)
LIMIT = job.get("output_limit", 1 << 20)
TIMEOUT = job["timeout"]
GRACE = 2.0  # beyond the worker's own timer: a worker stuck in C code that ignores SIGALRM is killed


def report(i, status, out="", err=""):
    results.write(nonce + " " + json.dumps({"i": i, "status": status, "out": out[:LIMIT], "err": err[-2000:]}) + "\n")
    results.flush()


class Worker:
    def __init__(self):
        global first_worker
        if first_worker is not None:
            (self.pid, self.requests, self.replies), first_worker = first_worker, None
        else:  # a replacement: a fresh interpreter, since a fork now would copy the job and the result channel
            import subprocess
            process = subprocess.Popen([sys.executable, "-I", sys.argv[0], "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, close_fds=True)
            self.pid, self.requests, self.replies = process.pid, os.dup(process.stdin.fileno()), os.dup(process.stdout.fileno())
            process.stdin.close()
            process.stdout.close()
            process.returncode = 0  # reaped by close(), not by subprocess
        self.buffer = b""

    def ask(self, request, timeout):
        """The worker's reply (a dict), or (status, reason) when it hung or ended."""
        try:
            data = (json.dumps(dict(request, timeout=timeout)) + "\n").encode()
            while data:
                data = data[os.write(self.requests, data):]
        except OSError:
            return self.end("error", "the program ended its process")
        deadline = time.monotonic() + timeout + GRACE
        fd = self.replies
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return self.end("timeout", "time limit")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return self.end("error", "the program ended its process")
            self.buffer += chunk
            if len(self.buffer) > 4 * LIMIT + (1 << 20):
                return self.end("error", "output limit")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
            if isinstance(reply, dict) and isinstance(reply.get("status"), str):
                return reply
        except ValueError:
            pass
        return self.end("error", "unreadable worker reply")

    def end(self, status, reason):
        self.close()
        return (status, reason)

    def close(self):
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


# ---------- asserts whose expected side the harness evaluates itself ----------

def assert_tools():
    """(rewrite, judge) for asserts mode; built only there (ast costs every other run 13 ms of start-up)."""
    import ast

    # Names an expected value may use: literals and pure builtins, never the program's own definitions.
    PURE = {"set", "frozenset", "sorted", "tuple", "list", "dict", "abs", "round", "float", "int", "str", "len", "min", "max",
            "sum", "bool", "complex", "range", "reversed", "True", "False", "None"}
    PURE_BUILTINS = {name: getattr(builtins, name) for name in PURE if hasattr(builtins, name)}
    COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
               ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
               ast.NotIn: lambda a, b: a not in b}


    def bound_names(tree):
        """Every name the test binds (assignments, loop targets, arguments, imports, definitions): a test may call a local
        variable `str`, and then `str` is no builtin."""
        names = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                names.add(n.id)
            elif isinstance(n, ast.arg):
                names.add(n.arg)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(n.name)
            elif isinstance(n, ast.alias):
                names.add((n.asname or n.name).split(".")[0])
        return names


    class Checks(ast.NodeTransformer):
        """Rewrites `assert <program's value> <op> <pure expression>` (and `assert [not] <program's value>`) into a report of
        the program's value; the expected side stays here. Other asserts run in the worker as written."""

        def __init__(self, pure_names, required_nodes):
            self.checks = []  # (compare, expected, expected_is_left, required)
            self.pure_names = pure_names
            self.required_nodes = required_nodes

        def pure(self, node):
            return all(n.id in self.pure_names for n in ast.walk(node) if isinstance(n, ast.Name)) and not any(
                isinstance(n, (ast.Attribute, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(node))

        def visit_Assert(self, node):
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in COMPARE:
                left, right = test.left, test.comparators[0]
                for value, expected, expected_is_left in ((left, right, False), (right, left, True)):
                    if not self.pure(value) and self.pure(expected):
                        try:
                            wanted = eval(compile(ast.Expression(expected), "<expected>", "eval"), {"__builtins__": PURE_BUILTINS})
                        except Exception:
                            return node
                        return self.report(node, value, (COMPARE[type(test.ops[0])], wanted, expected_is_left), truth=False)
                return node
            # assert f(x) / assert not f(x): the truth of the program's value (a chained comparison or a boolean expression
            # would carry its expected values into the worker, so those run as written)
            negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
            value = test.operand if negated else test
            if self.pure(value) or isinstance(value, (ast.Compare, ast.BoolOp)):
                return node
            return self.report(node, value, (operator.is_, not negated, False), truth=True)

        def report(self, node, value, check, truth):
            k = len(self.checks)
            self.checks.append(check + (id(node) in self.required_nodes,))
            args = [ast.Constant(k), value] + ([ast.Constant(True)] if truth else [])
            call = ast.Call(func=ast.Name(id="__amd_value__", ctx=ast.Load()), args=args, keywords=[])
            return ast.copy_location(ast.Expr(value=call), node)


    def rewrite(source):
        """(source for the worker, checks) of a test; the source unchanged when it does not parse here."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source, []
        # Asserts that always run when the test runs: at the top level, or at the top of a function the test defines.
        required = {id(n) for n in tree.body if isinstance(n, ast.Assert)}
        for f in tree.body:
            if isinstance(f, ast.FunctionDef):
                required |= {id(n) for n in f.body if isinstance(n, ast.Assert)}
        checks = Checks(PURE - bound_names(tree), required)
        tree = ast.fix_missing_locations(checks.visit(tree))
        return ast.unparse(tree), checks.checks


    def judge(reply, checks):
        """(status, err) of a test from the worker's reply, comparing its reported values with the expected ones."""
        seen = set()
        for entry in reply.get("values") or []:
            try:
                k, text = entry
                compare, expected, expected_is_left, _ = checks[k]
                value = ast.literal_eval(text)
                passed = compare(expected, value) if expected_is_left else compare(value, expected)
            except Exception:
                return "failed", "unreadable value %r" % (entry,)
            if not passed:
                return "failed", "check %d: got %s" % (k, text[:200])
            seen.add(k)
        missing = [k for k, check in enumerate(checks) if check[3] and k not in seen]
        if missing:
            return "failed", "check %d never ran" % missing[0]
        return "ok", ""

    return rewrite, judge


# ---------- modes ----------

def run_python():
    mode = job["mode"]
    code = job["code"]
    if mode == "asserts":  # the setup lines (imports) and HumanEval's signature come first
        code = "\n".join(job.get("setup", [])) + "\n" + (job.get("prelude") or "") + "\n" + code
    worker = None
    load_failure = None

    def loaded():
        """A worker with the program loaded (and, for functional and asserts, run), or (status, err) when loading fails:
        it would fail the same way for every test."""
        nonlocal worker, load_failure
        if worker is None and load_failure is None:
            worker = Worker()
            reply = worker.ask({"op": "load", "code": code, "run": mode != "stdio", "imports": mode == "functional"}, TIMEOUT)
            if not isinstance(reply, dict) or reply["status"] != "ok":
                load_failure = reply if isinstance(reply, tuple) else (reply["status"], str(reply.get("err", "")))
                worker.close()
                worker = None
        return load_failure

    tests = job["inputs"] if mode != "asserts" else job["tests"]
    if mode == "asserts":
        rewrite, judge = assert_tools()
    for i, test in enumerate(tests):
        failure = loaded()
        if failure is not None:
            report(i, failure[0], err=failure[1])
            continue
        if mode == "stdio":
            reply = worker.ask({"op": "stdio", "stdin": test}, TIMEOUT)
        elif mode == "functional":
            reply = worker.ask({"op": "call", "fn": job["fn_name"], "args": test}, TIMEOUT)
        else:
            source, checks = rewrite(test)
            reply = worker.ask({"op": "test", "source": source}, TIMEOUT)
        if isinstance(reply, tuple):  # hung or ended: a new worker for the next test
            worker = None
            report(i, reply[0], err=reply[1])
            continue
        status, out, err = reply["status"], str(reply.get("out", "")), str(reply.get("err", ""))
        if mode == "asserts":
            out = ""
            if status == "ok":
                status, err = judge(reply, checks)
        report(i, status, out, err)
    if worker is not None:
        worker.close()


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
        failure = "compile: %s" % (e,)
    for i, stdin_text in enumerate(job["inputs"]):
        if failure:
            report(i, "error", err=failure)
            continue
        try:
            done = subprocess.run(["/tmp/prog"], input=stdin_text.encode(), capture_output=True, timeout=TIMEOUT)
            out = done.stdout.decode("utf-8", "replace")
            if done.returncode == 0:
                report(i, "ok", out)
            else:
                signal_name = "signal %d" % -done.returncode if done.returncode < 0 else "exit %d" % done.returncode
                report(i, "memory" if b"bad_alloc" in done.stderr else "error", out, "%s: %s" % (signal_name, done.stderr.decode("utf-8", "replace")[-500:]))
        except subprocess.TimeoutExpired:
            report(i, "timeout", err="time limit")


if job.get("language") == "cpp":
    run_compiled()
else:
    run_python()
if first_worker is not None:  # never needed (C++)
    Worker().close()
results.write(nonce + " " + json.dumps({"done": True}) + "\n")
results.flush()
os._exit(0)
