#!/usr/bin/env python3
"""What the MCP server adds to a sandbox, timed by a raw JSON-RPC client over stdio.

    scripts/bench-mcp.py --bin PATH [--runs 200] [--rounds 5] [--burst 100]
                         [--burst-rounds 3] [--max-concurrent default,8] [--clean-env]
                         [--json FILE] [--keep]

(scripts/bench-mcp.sh builds the release binary and calls this.) Python 3 standard
library only. Everything lives in a temporary directory: MYCELIUM_HOME (mode 0700: fresh
workflow and consent stores) and a --policies directory with two low-risk agents (no
consent needed): `bench-true` runs /bin/true, `bench-echo` runs `sh -c 'echo "$0"' TASK`,
both with read-only /usr /bin /lib ?/lib64, no network and the default seccomp profile
(as policies/bench-default.toml). Run as root, the agents are `nobody` on the host.

1. Round trip. One `mycelium serve` is started and initialized; then, in ROUNDS rounds of
   RUNS/ROUNDS steps, each step times in turn (same order every step, so drift hits all
   alike):
   - tools/call invoke_agent {bench-true, "x", wait_seconds 60}, from writing the request
     to reading the answer (the server answers the moment the workflow ends; the status
     must be `completed`);
   - `mycelium exec --policy <bench-true.toml> -- /bin/true`, a fresh process each time,
     subprocess.run inside time.perf_counter;
   - plain `/bin/true`, the same way, for scale.
   Medians and p90 per round and overall, the ratio MCP round trip / exec, and the CPU
   time per run (the server's process tree: server, spawner, sandboxes; against the exec
   process tree), which the machine's load barely changes. The workflows' records are
   read afterwards (untimed) to split the round trip by the server's own timestamps:
   request sent -> recorded, recorded -> sandbox started, started -> ended, ended ->
   answer read.
2. Burst. One server per --max-concurrent value (`default` passes no flag: the server's
   default, 4). Each round, per server: BURST invoke_agent {bench-echo, "<tag>-w<i>",
   wait_seconds 0} written back to back without waiting, the BURST workflow ids
   collected, then get_workflow_status {wait_seconds 60} for every id, pipelined, again for
   those not yet ended, until all are. Checked: every call answered, BURST distinct ids,
   BURST `completed` records with exit code 0 and the task text as result. Reported: wall
   time from the first request written to the last terminal answer read, workflows per
   second, CPU per workflow, against the same BURST sandboxes run as `mycelium exec`
   processes from a pool of max-concurrent threads (interleaved with the bursts).

--clean-env runs everything with only PATH, LANG and HOME (the state then in
$HOME/.mycelium): with no variable the sandbox withholds (every MYCELIUM_* is one, and so
are AWS_*, tokens, ...), the server's runs share one sanitizer instead of building one per
run with the withheld values as literals.

Anything unexpected (an error result, a status other than completed, a lost or repeated
id) is printed with the exact request and response, and the exit status is 1. Tables go
to standard output (markdown), progress to standard error.
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
PROTOCOL = "2025-06-18"
# The longest the server may take to answer anything (wait_seconds is at most 60).
ANSWER_TIMEOUT = 120

POLICY_HEAD = """version = 1

[agent]
description = "{description}"
command = {command}
task = "{task}"
timeout = "1m"

[filesystem]
read_only = ["/usr", "/bin", "/lib", "?/lib64", "?/etc/ld.so.cache"]
tmpfs = {{ "/tmp" = "16M" }}

[network]
mode = "none"

[seccomp]
profile = "default"
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p90(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, (9 * len(s)) // 10)]


def parse_time(text):
    """RFC 3339 UTC with up to microseconds (what the store writes) -> POSIX seconds."""
    if text is None:
        return None
    t = text.replace("Z", "+00:00")
    # fromisoformat before 3.11 wants 0, 3 or 6 fraction digits
    if "." in t:
        head, rest = t.split(".", 1)
        frac, tz = rest[:rest.index("+")], rest[rest.index("+"):]
        t = f"{head}.{frac.ljust(6, '0')[:6]}{tz}"
    return datetime.fromisoformat(t).timestamp()


class Anomalies:
    """Unexpected answers, kept with the exact request and response."""

    def __init__(self):
        self.items = []

    def add(self, what, request, response):
        self.items.append((what, request, response))
        if len(self.items) <= 20:
            log(f"!! {what}\n   request:  {json.dumps(request)}\n   response: {json.dumps(response)}")


class Server:
    """`mycelium serve` on pipes, spoken to as newline-delimited JSON-RPC."""

    def __init__(self, binary, env, policies, log_path, extra=()):
        self.log_path = log_path
        self.errlog = open(log_path, "wb")
        argv = [binary, "--policies", policies, "serve", *extra]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errlog, env=env, bufsize=0)
        # Requests go out unbuffered (one write each); answers are read in large chunks
        # into a buffer of our own (readline on the raw pipe would make one read(2) per
        # byte: about 1 ms per 400-byte answer), with select for a time limit.
        self.fd = self.proc.stdout.fileno()
        self.buf = bytearray()
        self.next_id = 0
        self.notifications = 0

    def request(self, method, params):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        return self.next_id, msg

    def write(self, msg):
        self.proc.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while (end := self.buf.find(b"\n")) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                self.die(f"no answer from the server in {timeout:.0f} s (request ids up to {self.next_id} sent)")
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.die("the server closed its standard output")
            self.buf += chunk
        line = bytes(self.buf[:end])
        del self.buf[:end + 1]
        return line

    def read(self, timeout=ANSWER_TIMEOUT):
        """The next response (a message with an id and no method); notifications counted,
        a server request (ping) answered."""
        while True:
            msg = json.loads(self.line(timeout))
            if "method" in msg:
                if "id" in msg:  # a request from the server: only ping is expected
                    reply = {"jsonrpc": "2.0", "id": msg["id"]}
                    if msg["method"] == "ping":
                        reply["result"] = {}
                    else:
                        reply["error"] = {"code": -32601, "message": "not supported by the bench client"}
                    self.write(reply)
                else:
                    self.notifications += 1
                continue
            return msg

    def call(self, method, params):
        rid, msg = self.request(method, params)
        self.write(msg)
        while True:
            resp = self.read()
            if resp.get("id") == rid:
                return msg, resp
            log(f"!! unexpected response id {resp.get('id')}: {json.dumps(resp)}")

    def tool(self, name, arguments):
        return self.call("tools/call", {"name": name, "arguments": arguments})

    def initialize(self):
        req, resp = self.call("initialize", {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "bench-mcp.py", "version": "1"}})
        if "result" not in resp:
            self.die(f"initialize failed: {json.dumps(resp)}")
        self.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return resp["result"]

    def die(self, why):
        self.proc.poll()
        tail = open(self.log_path, "rb").read()[-4000:].decode(errors="replace")
        sys.exit(f"{why} ({' '.join(self.argv)}; exit {self.proc.returncode}); its stderr ends:\n{tail}")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log(f"!! the server (pid {self.proc.pid}) did not exit 15 s after its input closed; killing it")
            self.proc.kill()
            self.proc.wait()
        self.errlog.close()
        return self.proc.returncode


def structured(resp):
    """(isError, structuredContent) of a tools/call response, or (True, None)."""
    r = resp.get("result")
    if not isinstance(r, dict):
        return True, None
    return bool(r.get("isError")), r.get("structuredContent")


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU seconds of process `pid` and its live descendants, each with what it reaped
    (utime + stime + cutime + cstime: nothing counted twice, a reaped process is in exactly
    one live ancestor's c-times). Load on the machine barely changes it, unlike wall time."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                text = f.read()
            rest = text[text.rindex(")") + 2:].split()
            total += sum(int(x) for x in rest[11:15])
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / TICK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_timed(argv, env):
    """(wall ms, CPU ms of the whole process tree) of one run to exit."""
    c0 = children_cpu()
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    cpu = children_cpu() - c0
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return dt * 1000, cpu * 1000


# ----------------------------------------------------------------------------- part 1

def round_trips(a, binary, env, d, anomalies):
    srv = Server(binary, env, d["policies"], os.path.join(d["root"], "serve-rt.log"))
    info = srv.initialize()
    log(f"server: {info.get('serverInfo')} protocol {info.get('protocolVersion')}")
    _, listing = srv.tool("list_agents", {})
    for ag in (structured(listing)[1] or {}).get("agents", []):
        log(f"agent {ag['name']}: risk {ag['risk']}, consent {ag['consent']}")
        if ag["consent"] not in ("not-required", "granted"):
            sys.exit(f"{ag['name']} needs consent ({ag['consent']}): the bench agents must be low risk")

    exec_argv = [binary, "exec", "--policy", d["true_policy"], "--", "/bin/true"]
    bare_argv = ["/bin/true"]
    args = {"agent_name": "bench-true", "task_description": "x", "wait_seconds": 60}

    def mcp_once(keep):
        c0 = tree_cpu(srv.proc.pid)
        w0 = time.time()
        t0 = time.perf_counter()
        req, resp = srv.tool("invoke_agent", args)
        dt = (time.perf_counter() - t0) * 1000
        w1 = time.time()
        cpu = (tree_cpu(srv.proc.pid) - c0) * 1000
        err, sc = structured(resp)
        if err or not sc or sc.get("status") != "completed":
            anomalies.add("invoke_agent did not answer completed", req, resp)
        elif keep is not None:
            keep.append((sc["workflow_id"], w0, w1))
        return dt, cpu

    for _ in range(a.warmup):
        mcp_once(None)
        run_timed(exec_argv, env)
        run_timed(bare_argv, env)

    per_round = max(1, a.runs // a.rounds)
    rounds = []
    samples = []  # (workflow id, wall clock sent, wall clock answered)
    for r in range(a.rounds):
        m, e, b, mc, ec = [], [], [], 0.0, 0.0
        for _ in range(per_round):
            dt, cpu = mcp_once(samples)
            m.append(dt)
            mc += cpu
            dt, cpu = run_timed(exec_argv, env)
            e.append(dt)
            ec += cpu
            b.append(run_timed(bare_argv, env)[0])
        rounds.append({"mcp": m, "exec": e, "bare": b, "mcp_cpu": mc / per_round,
                       "exec_cpu": ec / per_round, "load": os.getloadavg()[0]})
        log(f"round {r + 1}/{a.rounds}: MCP {median(m):.3f} ms, exec {median(e):.3f} ms, "
            f"/bin/true {median(b):.3f} ms, ratio {median(m) / median(e):.2f}; CPU per run "
            f"MCP {mc / per_round:.2f} ms, exec {ec / per_round:.2f} ms; load {os.getloadavg()[0]:.1f}")

    # Where the time goes, by the server's own clock (untimed reads afterwards).
    split = {"sent -> recorded": [], "recorded -> started": [], "started -> ended": [],
             "ended -> answer read": []}
    for wid, w0, w1 in samples:
        req, resp = srv.tool("get_workflow_status", {"workflow_id": wid})
        err, sc = structured(resp)
        if err or not sc:
            anomalies.add("get_workflow_status failed", req, resp)
            continue
        c, s, e = (parse_time(sc.get(k)) for k in ("created_at", "started_at", "completed_at"))
        if None in (c, s, e):
            anomalies.add("a completed record without its times", req, resp)
            continue
        split["sent -> recorded"].append((c - w0) * 1000)
        split["recorded -> started"].append((s - c) * 1000)
        split["started -> ended"].append((e - s) * 1000)
        split["ended -> answer read"].append((w1 - e) * 1000)
    notes = srv.notifications
    rc = srv.close()
    if rc not in (0, None):
        log(f"!! the round-trip server exited {rc}")
    return rounds, split, notes


# ----------------------------------------------------------------------------- part 2

def burst_mcp(srv, n, anomalies, tag, timeout):
    """n invoke_agent calls back to back, then long-polls until every one is terminal."""
    reqs = {}
    order = []
    for i in range(n):
        rid, msg = srv.request("tools/call", {"name": "invoke_agent", "arguments": {
            "agent_name": "bench-echo", "task_description": f"{tag}-w{i}", "wait_seconds": 0}})
        reqs[rid] = msg
        order.append(rid)
    payload = [json.dumps(reqs[rid], separators=(",", ":")).encode() + b"\n" for rid in order]

    # A writer thread, so that neither side can block the other on a full pipe.
    c0 = tree_cpu(srv.proc.pid)
    t0 = time.perf_counter()
    writer = threading.Thread(target=lambda: [srv.proc.stdin.write(p) for p in payload])
    writer.start()
    invoked = {}  # rid -> (response, time read)
    while len(invoked) < n:
        resp = srv.read()
        if resp.get("id") not in reqs or resp["id"] in invoked:
            anomalies.add("a response to no outstanding invoke_agent", None, resp)
            continue
        invoked[resp["id"]] = (resp, time.perf_counter())
    writer.join()
    t_invoked = time.perf_counter()

    ids = {}  # workflow id -> task text
    for rid in order:
        resp = invoked[rid][0]
        err, sc = structured(resp)
        if err or not sc or "workflow_id" not in sc:
            anomalies.add("invoke_agent failed", reqs[rid], resp)
            continue
        wid = sc["workflow_id"]
        if wid in ids:
            anomalies.add(f"workflow id {wid} returned twice", reqs[rid], resp)
        ids[wid] = reqs[rid]["params"]["arguments"]["task_description"]

    final = {}  # workflow id -> (structuredContent, time read, request, response)
    last = {}  # workflow id -> (request, response) of its latest non-terminal answer
    pending = [w for w in ids]
    polls = 0
    give_up = time.perf_counter() + timeout
    while pending and time.perf_counter() < give_up:
        polls += 1
        batch = {}
        lines = []
        for wid in pending:
            rid, msg = srv.request("tools/call", {"name": "get_workflow_status", "arguments": {
                "workflow_id": wid, "wait_seconds": 60}})
            batch[rid] = (wid, msg)
            lines.append(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        writer = threading.Thread(target=lambda: [srv.proc.stdin.write(x) for x in lines])
        writer.start()
        still = []
        got = 0
        while got < len(batch):
            resp = srv.read()
            if resp.get("id") not in batch:
                anomalies.add("a response to no outstanding get_workflow_status", None, resp)
                continue
            got += 1
            wid, msg = batch[resp["id"]]
            err, sc = structured(resp)
            if err or not sc:
                anomalies.add("get_workflow_status failed", msg, resp)
                continue
            if sc["status"] in TERMINAL:
                final[wid] = (sc, time.perf_counter(), msg, resp)
            else:
                still.append(wid)
                last[wid] = (msg, resp)
        writer.join()
        pending = still
    for wid in pending:
        anomalies.add(f"workflow {wid} not ended {timeout:.0f} s after the burst began", *last[wid])
    t_end = max((v[1] for v in final.values()), default=time.perf_counter())
    cpu = tree_cpu(srv.proc.pid) - c0

    completed = 0
    for wid, (sc, _, msg, resp) in final.items():
        ok = (sc["status"] == "completed" and sc.get("exit_code") == 0
              and (sc.get("result") or "").strip() == ids[wid])
        if ok:
            completed += 1
        else:
            anomalies.add(f"workflow {wid} ended {sc['status']} (exit {sc.get('exit_code')}, "
                          f"result {sc.get('result')!r}, expected {ids[wid]!r})", msg, resp)
    created = [parse_time(v[0]["created_at"]) for v in final.values()]
    ended = [parse_time(v[0]["completed_at"]) for v in final.values() if v[0].get("completed_at")]
    # Each workflow's times by the server's clock, from its first record (for --json).
    first = min(created, default=0)
    times = sorted([round(parse_time(sc.get(k)) - first, 6) if sc.get(k) else None
                    for k in ("created_at", "started_at", "completed_at")]
                   for sc, *_ in final.values())
    return {
        "sent": n,
        "answered": len(invoked),
        "distinct_ids": len(ids),
        "terminal": len(final),
        "completed": completed,
        "wall_s": t_end - t0,
        "invokes_answered_s": t_invoked - t0,
        "server_span_s": (max(ended) - min(created)) if created and ended else float("nan"),
        "poll_rounds": polls,
        "cpu_s": cpu,
        "load": os.getloadavg()[0],
        "times": times,
    }


def burst_exec(binary, env, policy, n, workers, tag):
    """The same n sandboxes as `mycelium exec` processes, `workers` at a time."""
    def one(i):
        task = f"{tag}-w{i}"
        p = subprocess.run([binary, "exec", "--policy", policy, "--", "/bin/sh", "-c",
                            'echo "$0"', task], stdin=subprocess.DEVNULL,
                           capture_output=True, env=env)
        return p.returncode == 0 and p.stdout.decode().strip() == task
    c0 = children_cpu()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ok = sum(pool.map(one, range(n)))
    return {"wall_s": time.perf_counter() - t0, "ok": ok, "cpu_s": children_cpu() - c0}


def bursts(a, binary, env, d, anomalies):
    configs = [c.strip() for c in a.max_concurrent.split(",") if c.strip()]
    servers = {}
    for c in configs:
        extra = [] if c == "default" else ["--max-concurrent", c]
        srv = Server(binary, env, d["policies"], os.path.join(d["root"], f"serve-burst-{c}.log"),
                     extra)
        srv.initialize()
        servers[c] = srv
    # The server says how many sandboxes it runs at once in its `ready` line (written
    # before it answers initialize).
    width = {}
    for c, srv in servers.items():
        text = open(srv.log_path, "rb").read().decode(errors="replace")
        m = re.search(r"ready: (\d+) sandbox", text)
        width[c] = int(m.group(1)) if m else (4 if c == "default" else int(c))
    results = {c: [] for c in configs}
    for r in range(a.burst_rounds):
        for c in configs:
            tag = f"r{r}c{c}"
            m = burst_mcp(servers[c], a.burst, anomalies, tag, a.burst_timeout)
            e = burst_exec(binary, env, d["echo_policy"], a.burst, width[c], tag)
            results[c].append((m, e))
            log(f"burst round {r + 1}/{a.burst_rounds}, max-concurrent {c} ({width[c]}): "
                f"{m['completed']}/{m['sent']} completed, {m['distinct_ids']} ids, "
                f"{m['wall_s']:.3f} s ({a.burst / m['wall_s']:.1f}/s); "
                f"exec pool {e['wall_s']:.3f} s ({e['ok']}/{a.burst} ok)")
    for c, srv in servers.items():
        rc = srv.close()
        if rc not in (0, None):
            log(f"!! the burst server ({c}) exited {rc}")
    return results, width


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the mycelium binary (release build)")
    ap.add_argument("--runs", type=int, default=200, help="MCP round trips in all (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds they are split into (default 5)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    ap.add_argument("--burst", type=int, default=100, help="invocations per burst (default 100); 0 skips")
    ap.add_argument("--burst-rounds", type=int, default=3, help="bursts per configuration (default 3)")
    ap.add_argument("--burst-timeout", type=float, default=300,
                    help="seconds after which a burst's unfinished workflows count as lost (default 300)")
    ap.add_argument("--max-concurrent", default="default,8",
                    help="--max-concurrent values for the bursts, comma-separated; `default` gives none "
                         "(default: default,8)")
    ap.add_argument("--clean-env", action="store_true",
                    help="run everything with only PATH, LANG and HOME=<temporary> (state in "
                         "$HOME/.mycelium, no MYCELIUM_HOME), so that no variable is withheld")
    ap.add_argument("--json", help="write every sample to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, store)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)

    root = tempfile.mkdtemp(prefix="mycelium-bench-mcp-")
    home = os.path.join(root, "home")
    policies = os.path.join(root, "policies")
    os.mkdir(home, 0o700)
    os.chmod(home, 0o700)
    os.mkdir(policies, 0o755)
    true_policy = os.path.join(policies, "bench-true.toml")
    echo_policy = os.path.join(policies, "bench-echo.toml")
    with open(true_policy, "w") as f:
        f.write(POLICY_HEAD.format(description="Benchmark: /bin/true", command='["/bin/true"]',
                                   task="stdin"))
    with open(echo_policy, "w") as f:
        f.write(POLICY_HEAD.format(description="Benchmark: echoes its task",
                                   command="""["/bin/sh", "-c", 'echo "$0"']""", task="arg"))
    if a.clean_env:
        # No variable a sandbox would withhold (MYCELIUM_HOME is one: every MYCELIUM_*
        # is), so runs share the server's one sanitizer: the state goes to $HOME/.mycelium.
        os.mkdir(os.path.join(home, ".mycelium"), 0o700)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": home}
    else:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MYCELIUM_") and k not in ("RUST_LOG",)}
        env["MYCELIUM_HOME"] = home
    d = {"root": root, "home": home, "policies": policies, "true_policy": true_policy,
         "echo_policy": echo_policy}
    log(f"temporary directory {root}; binary {binary}")

    anomalies = Anomalies()
    try:
        rounds, split, notes = round_trips(a, binary, env, d, anomalies) if a.runs > 0 else ([], {}, 0)
        burst_results, width = bursts(a, binary, env, d, anomalies) if a.burst > 0 else ({}, {})
    finally:
        if a.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    out = [f"environment: {'--clean-env (PATH, LANG, HOME only)' if a.clean_env else 'MYCELIUM_HOME=<temporary> and the caller variables (MYCELIUM_* dropped)'}; "
           f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end\n"]
    if rounds:
        out.append(f"### invoke_agent round trip (`/bin/true`, wait_seconds 60) against `mycelium exec`\n")
        out.append(f"{a.runs} round trips in {a.rounds} interleaved rounds, {a.warmup} warm-up steps; ms, median (p90)\n")
        out.append("| round | MCP invoke → completed | `mycelium exec` | `/bin/true` | MCP / exec | "
                   "CPU per run, MCP / exec (ms) | load (1 min) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        allm, alle, allb = [], [], []
        for i, r in enumerate(rounds):
            allm += r["mcp"]; alle += r["exec"]; allb += r["bare"]
            out.append(f"| {i + 1} | {median(r['mcp']):.3f} ({p90(r['mcp']):.3f}) | "
                       f"{median(r['exec']):.3f} ({p90(r['exec']):.3f}) | "
                       f"{median(r['bare']):.3f} ({p90(r['bare']):.3f}) | "
                       f"{median(r['mcp']) / median(r['exec']):.2f} | "
                       f"{r['mcp_cpu']:.2f} / {r['exec_cpu']:.2f} | {r['load']:.1f} |")
        ratios = [median(r["mcp"]) / median(r["exec"]) for r in rounds]
        out.append(f"| all | **{median(allm):.3f}** ({p90(allm):.3f}) | **{median(alle):.3f}** ({p90(alle):.3f}) | "
                   f"{median(allb):.3f} ({p90(allb):.3f}) | **{median(allm) / median(alle):.2f}** "
                   f"(rounds {min(ratios):.2f}–{max(ratios):.2f}) | "
                   f"{statistics.mean(r['mcp_cpu'] for r in rounds):.2f} / "
                   f"{statistics.mean(r['exec_cpu'] for r in rounds):.2f} | |")
        out.append("")
        out.append("Where an MCP round trip goes (server timestamps, µs precision; ms, median (p90)):\n")
        out.append("| stage | median | p90 |")
        out.append("| --- | --- | --- |")
        for k, v in split.items():
            out.append(f"| {k} | {median(v):.3f} | {p90(v):.3f} |")
        out.append(f"\n(notifications received during the round trips: {notes})\n")
    if burst_results:
        out.append(f"### {a.burst} concurrent invoke_agent (`sh -c 'echo \"$0\"' TASK`, wait_seconds 0), then get_workflow_status long-polls\n")
        out.append(f"{os.cpu_count()} CPUs; {a.burst_rounds} rounds per configuration, interleaved; "
                   "baseline: the same sandboxes as `mycelium exec` processes, max-concurrent at a time\n")
        out.append("| --max-concurrent | round | completed / sent | distinct ids | all invokes answered (s) | "
                   "wall to last completed (s) | workflows/s | ms/workflow | exec pool (s) | MCP / exec pool | "
                   "CPU ms per workflow, MCP / exec | load (1 min) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c, rs in burst_results.items():
            walls = []
            for i, (m, e) in enumerate(rs):
                walls.append((m["wall_s"], e["wall_s"]))
                out.append(f"| {c} ({width[c]}) | {i + 1} | {m['completed']} / {m['sent']} | {m['distinct_ids']} | "
                           f"{m['invokes_answered_s']:.3f} | {m['wall_s']:.3f} | {m['sent'] / m['wall_s']:.1f} | "
                           f"{1000 * m['wall_s'] / m['sent']:.2f} | {e['wall_s']:.3f} | {m['wall_s'] / e['wall_s']:.2f} | "
                           f"{1000 * m['cpu_s'] / m['sent']:.2f} / {1000 * e['cpu_s'] / m['sent']:.2f} | {m['load']:.1f} |")
            mw = median([w[0] for w in walls]); ew = median([w[1] for w in walls])
            out.append(f"| {c} ({width[c]}) | median | | | | **{mw:.3f}** | **{a.burst / mw:.1f}** | "
                       f"{1000 * mw / a.burst:.2f} | {ew:.3f} | **{mw / ew:.2f}** | | |")
        out.append("")
    if anomalies.items:
        out.append(f"**{len(anomalies.items)} anomalies** (first ones printed above on stderr, with request and response)")
    else:
        out.append("No anomalies: every call answered, every workflow completed with the expected output, no id lost or repeated.")
    print("\n".join(out))

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": rounds, "split": split, "bursts": burst_results,
                       "anomalies": [list(x) for x in anomalies.items]}, f)
    sys.exit(1 if anomalies.items else 0)


if __name__ == "__main__":
    main()
