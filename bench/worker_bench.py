#!/usr/bin/env python3
"""Worker throughput against its floor and its peer, measured in one run.

Starts a local stack of its own (tests/stack/stack.sh), then for each size
stores the same seed-like memories four ways, --repeat times, each repeat
in another order, each run after a VACUUM ANALYZE of Memory:

  floor    Parse Server's own floor: the memories as /parse/batch calls of
           100 (one curl process, one keep-alive connection, one call at a
           time), with the master key. Nothing is read, checked or counted.
  objects  the same floor for the objects the worker stores: each item with
           an objectId, index, contentHash, request and user pointers and an
           ACL (what Parse does for the worker's memories, with nothing else).
  seeds    the seeds' pattern: one POST /classes/Memory per memory over one
           keep-alive connection (Python's http.client), as the seeds'
           activity does it. Only for sizes up to --seeds-max.
  membatch `membatch submit FILE`, then the wall time of
           `membatch work --max-tasks 1 --concurrency 1` from its start to
           its exit: plugin load, gRPC poll, fetch, download, store, counts,
           final status and report, with its peak RSS.

Every membatch run is checked: exactly N Memory objects for its batch.
Then two workers on two batches against one worker on one.

Prints a Markdown table (min and median of each) and the ratios. Not in
ctest: timings on a shared machine are for people, not for pass/fail.

  bench/worker_bench.py [--sizes 10000,100000] [--repeat 3] [--build build]

--chunked N (--million is --chunked 1000) measures something else, on a
stack of its own: N requests of --chunk-size memories (default 1000), as a
submission too large for one request is split, each chunk its own file,
`membatch submit`, BatchMemoryRequest and workflow. Setting them up is not
timed. Then --workers `membatch work` processes (default 2, each with
--worker-concurrency tasks at once, default 2) are started together and
timed from their start until every one of the N requests is final; then
they are stopped with SIGTERM (--max-tasks counts every activity task, so
it cannot share the work out evenly). Checked: every request completed with
successCount = --chunk-size, and, in PostgreSQL, exactly N x --chunk-size
Memory rows for those batches, one per (batchId, index). Prints each
worker's peak RSS and what its log says (warnings, retries). With
--chunked-floor, Parse's floor (as above) is timed first for the same
memories, in one batch of its own.

  bench/worker_bench.py --million [--chunked-floor] [--build build]
"""

import argparse
import concurrent.futures
import gzip
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("memory graph retrieval context tokens workspace customer support call idea paper summary "
         "batch import embeddings notification latency cache index search ranking feedback release "
         "roadmap onboarding billing export schema migration worker queue").split()


def memories(n, seed=7):
    """n seed-like memories: a sentence or three, metadata, tags, some embeddings."""
    rng = random.Random(seed)
    for i in range(n):
        item = {
            "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 60))) + f" (#{i})",
            "metadata": {"kind": rng.choice(["idea", "research", "support", "note"]), "sequence": i,
                         "importance": rng.choice(["low", "medium", "high"])},
            "tags": rng.sample(WORDS, rng.randint(1, 4)),
            "source": "bench",
        }
        if i % 3 == 0:
            item["embedding"] = [round(rng.uniform(-1, 1), 4) for _ in range(16)]
        yield item


class Stack:
    def __init__(self, build):
        self.dir = tempfile.mkdtemp(prefix="membatch-bench-stack-")
        self.build = build
        subprocess.run([os.path.join(REPO, "tests/stack/stack.sh"), "up", "--dir", self.dir], check=True,
                       stdout=subprocess.DEVNULL)
        self.env = dict(os.environ)
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                if line.startswith("export "):
                    key, _, value = line[len("export "):].strip().partition("=")
                    self.env[key] = value
        self.parse = urllib.parse.urlsplit(self.env["MEMBATCH_PARSE_URL"])
        self.headers = {"X-Parse-Application-Id": self.env["MEMBATCH_APP_ID"],
                        "X-Parse-Master-Key": self.env["MEMBATCH_MASTER_KEY"],
                        "Content-Type": "application/json"}
        self.membatch = os.path.join(build, "host-stub", "membatch")

    def down(self):
        subprocess.run([os.path.join(REPO, "tests/stack/stack.sh"), "down", "--dir", self.dir],
                       stdout=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)  # down leaves its .lock

    def url(self, path):
        return self.env["MEMBATCH_PARSE_URL"].rstrip("/") + path

    def query(self, class_name, **params):
        query = urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()})
        req = urllib.request.Request(self.url(f"/classes/{class_name}?" + query), headers=self.headers)
        with urllib.request.urlopen(req) as answer:
            return json.load(answer)

    def count(self, batch_id):
        return self.query("Memory", where={"batchId": batch_id}, count=1, limit=0)["count"]

    def settle(self):
        """Let PostgreSQL catch up with the last run (its autovacuum of the
        rows just inserted would otherwise run into the next one's time)."""
        self.sql('VACUUM ANALYZE "Memory"')

    def sql(self, statement):
        """Rows of one statement, run by psql against the stack's database."""
        with open(os.path.join(self.dir, "pg.uri")) as f:
            uri = f.read().strip()
        out = subprocess.run(["psql", uri, "-X", "-A", "-t", "-F", "\t", "-c", statement], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class FloorCalls:
    """The curl config of the floor: one /batch call of 100 per add().

    With objects=True, each memory is the whole object the worker stores: the
    item plus an objectId of its own, index, contentHash, the request and user
    pointers and the request's ACL (the user's read and write); without, the
    item and its batchId only."""

    def __init__(self, stack, batch_id, work, objects=False):
        self.stack, self.batch_id, self.work = stack, batch_id, work
        self.path = stack.parse.path.rstrip("/") + "/classes/Memory"
        self.config = os.path.join(work, "floor.curl")
        self.cfg = open(self.config, "w")
        self.calls = 0
        self.objects = objects
        self.index = 0
        if objects:
            user = stack.query("_User", where={"username": stack.env["MEMBATCH_USERNAME"]}, limit=1)["results"][0]["objectId"]
            self.extra = {"request": {"__type": "Pointer", "className": "BatchMemoryRequest", "objectId": secrets.token_hex(12)},
                          "user": {"__type": "Pointer", "className": "_User", "objectId": user},
                          "ACL": {user: {"read": True, "write": True}}}

    def body(self, item):
        fields = dict(item, batchId=self.batch_id)
        if self.objects:
            fields.update(self.extra, objectId=secrets.token_hex(12), index=self.index,
                          contentHash=hashlib.sha256(item["content"].encode()).hexdigest())
        self.index += 1
        return fields

    def add(self, items):
        body = {"requests": [{"method": "POST", "path": self.path, "body": self.body(item)} for item in items]}
        name = os.path.join(self.work, f"floor-{self.calls}.json")
        with open(name, "w") as f:
            json.dump(body, f, separators=(",", ":"))
        if self.calls:
            self.cfg.write("next\n")
        self.cfg.write(f'url = "{self.stack.url("/batch")}"\n')
        for key, value in self.stack.headers.items():
            self.cfg.write(f'header = "{key}: {value}"\n')
        self.cfg.write(f'data-binary = "@{name}"\nsilent\noutput = "/dev/null"\n')
        self.calls += 1

    def run(self):
        self.cfg.close()
        began = time.perf_counter()
        subprocess.run(["curl", "--fail", "-K", self.config], check=True)
        seconds = time.perf_counter() - began
        for i in range(self.calls):
            os.remove(os.path.join(self.work, f"floor-{i}.json"))
        return seconds


def floor(stack, items, batch_id, work, objects=False):
    """The memories as /batch calls of 100 from one curl process."""
    calls = FloorCalls(stack, batch_id, work, objects)
    for start in range(0, len(items), 100):
        calls.add(items[start:start + 100])
    return calls.run(), None


def seeds(stack, items, batch_id, _work):
    """One POST per memory, one at a time, over one keep-alive connection."""
    conn = http.client.HTTPConnection(stack.parse.hostname, stack.parse.port)
    path = stack.parse.path.rstrip("/") + "/classes/Memory"
    began = time.perf_counter()
    for item in items:
        conn.request("POST", path, body=json.dumps(dict(item, batchId=batch_id)), headers=stack.headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 201:
            raise RuntimeError(f"seeds: Parse answered {answer.status}")
    conn.close()
    return time.perf_counter() - began, None


def worker(stack, env, extra=()):
    return subprocess.Popen(["/usr/bin/time", "-f", "%e %M %U %S", stack.membatch, "work", "--max-tasks", "1",
                             "--concurrency", "1", "--pollers", "1", *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc):
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("membatch work failed: " + err[-2000:])
    seconds, rss_kb, user, system = err.strip().splitlines()[-1].split()
    print(f"  membatch work: {seconds} s, CPU {float(user) + float(system):.2f} s", file=sys.stderr)
    return float(seconds), int(rss_kb) / 1024


def submit(stack, path, batch_id, env):
    # One request for the whole file, as large as a worker may take, however
    # submit would cut it by default; and every item kept (no dedup).
    subprocess.run([stack.membatch, "submit", path, "--batch-id", batch_id, "--chunk-size", "100000",
                    "--chunk-bytes", str(256 * 1024 * 1024), "--dedup", "off"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def membatch(stack, items_path, batch_id, n, queue):
    env = dict(stack.env, MEMBATCH_TASK_QUEUE=queue)
    submit(stack, items_path, batch_id, env)
    stack.settle()  # after the submit too: only the worker is timed
    seconds, rss = finish(worker(stack, env))
    got = stack.count(batch_id)
    if got != n:
        raise RuntimeError(f"membatch: {got} Memory objects for {batch_id}, expected {n}")
    return seconds, rss


FINAL = ("completed", "partial_failure", "failed", "canceled")


def chunked(args):
    """N requests of --chunk-size memories, worked by --workers workers at once."""
    n, size = args.chunked, args.chunk_size
    total = n * size
    stack = Stack(args.build)
    prefix = f"bench-chunk-{os.getpid()}-"
    ids = [f"{prefix}{k:04d}" for k in range(n)]
    procs = []
    try:
        with tempfile.TemporaryDirectory(prefix="membatch-bench-") as work:
            # Setup, not timed: the chunk files (and the floor's calls), then one submit per chunk.
            began = time.perf_counter()
            calls = FloorCalls(stack, prefix + "floor", work) if args.chunked_floor else None
            source = memories(total)
            for k in range(n):
                chunk = [next(source) for _ in range(size)]
                with gzip.open(os.path.join(work, f"chunk-{k:04d}.jsonl.gz"), "wt", compresslevel=1) as f:
                    for item in chunk:
                        f.write(json.dumps(item) + "\n")
                if calls:
                    for start in range(0, size, 100):
                        calls.add(chunk[start:start + 100])
            print(f"chunked: {n} files of {size} written in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            floor_seconds = None
            if calls:
                floor_seconds = calls.run()
                print(f"chunked: floor, {total:,} memories as {calls.calls} /batch calls of 100: "
                      f"{floor_seconds:.2f} s", file=sys.stderr)

            env = dict(stack.env)
            began = time.perf_counter()
            # Two submits at a time (one per core): about 0.4 s each, mostly waiting on Parse and Temporal.
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda k: submit(stack, os.path.join(work, f"chunk-{k:04d}.jsonl.gz"), ids[k], env),
                              range(n)))
            print(f"chunked: {n} submits in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            where = {"batchId": {"$regex": "^" + prefix + "[0-9]"}}

            # Timed: from the workers' start until every request is final.
            logs = [os.path.join(work, f"worker-{w}.log") for w in range(args.workers)]
            usage = [os.path.join(work, f"worker-{w}.time") for w in range(args.workers)]
            began = time.perf_counter()
            for w in range(args.workers):
                with open(logs[w], "w") as log:
                    procs.append(subprocess.Popen(
                        ["/usr/bin/time", "-o", usage[w], "-f", "%e %M %U %S", stack.membatch, "work",
                         "--concurrency", str(args.worker_concurrency), "--pollers", str(args.worker_concurrency),
                         "--identity", f"bench-worker-{w}"],
                        env=env, stdout=subprocess.DEVNULL, stderr=log))
            done, last = 0, -1
            while done < n:
                time.sleep(0.5)
                if any(proc.poll() is not None for proc in procs):
                    raise RuntimeError("a worker exited before the requests were final")
                done = stack.query("BatchMemoryRequest", where=dict(where, status={"$in": list(FINAL)}),
                                   count=1, limit=0)["count"]
                if time.perf_counter() - began - last >= 30:
                    last = time.perf_counter() - began
                    print(f"chunked: {last:.0f} s: {done} of {n} requests final", file=sys.stderr)
                if time.perf_counter() - began > args.chunked_timeout:
                    raise RuntimeError(f"chunked: only {done} of {n} requests final after {args.chunked_timeout} s")
            wall = time.perf_counter() - began
            print(f"chunked: all {n} requests final after {wall:.2f} s; stopping the workers", file=sys.stderr)

            # Each worker is the child of its /usr/bin/time: SIGTERM to it, so time reports.
            for proc in procs:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    for child in f.read().split():
                        os.kill(int(child), signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
            peaks = []
            for w in range(args.workers):
                seconds, rss_kb, user, system = open(usage[w]).read().strip().splitlines()[-1].split()
                peaks.append(int(rss_kb) / 1024)
                with open(logs[w]) as f:
                    lines = [line.rstrip() for line in f if line.strip()]
                print(f"chunked: worker {w}: exit {procs[w].returncode}, {seconds} s, CPU "
                      f"{float(user) + float(system):.1f} s, peak RSS {peaks[-1]:.0f} MB, {len(lines)} log lines",
                      file=sys.stderr)
                for line in lines[:20]:
                    print(f"  worker {w}: {line}", file=sys.stderr)

            # Checks: the requests, through Parse; the memories, in PostgreSQL and through Parse.
            requests = stack.query("BatchMemoryRequest", where=where, limit=n + 1,
                                   keys="batchId,status,successCount,failCount,processedCount")["results"]
            wrong = [r for r in requests if r.get("status") != "completed" or r.get("successCount") != size
                     or r.get("failCount") != 0 or r.get("processedCount") != size]
            mine = f'"batchId" ~ \'^{prefix}[0-9]\''
            rows, distinct, batches = stack.sql(
                f'SELECT count(*), count(DISTINCT ("batchId", "index")), count(DISTINCT "batchId") FROM "Memory" '
                f'WHERE {mine}')[0]
            sizes_seen = ", ".join(f"{b} of {per}" for per, b in stack.sql(
                f'SELECT per, count(*) FROM (SELECT count(*) AS per FROM "Memory" WHERE {mine} GROUP BY "batchId") '
                'AS b GROUP BY per'))
            parse_count = stack.query("Memory", where=where, count=1, limit=0)["count"]
            print(f"chunked: {len(requests)} requests, {len(wrong)} not completed with {size} stored; "
                  f"PostgreSQL: {int(rows):,} Memory rows, {int(distinct):,} distinct (batchId, index), "
                  f"{batches} batches ({sizes_seen} memories); Parse counts {parse_count:,}", file=sys.stderr)
            if len(requests) != n or wrong or int(rows) != total or int(distinct) != total or parse_count != total:
                raise RuntimeError("chunked: the memories were not stored exactly once: " + json.dumps(wrong[:5]))
            parse_errors = sum(1 for line in open(os.path.join(stack.dir, "parse.log"))
                               if '"level":"error"' in line or "error:" in line.lower())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        stack.down()

    print("| memories | requests | workers | Parse floor (/batch of 100, curl) | membatch work, start to all final "
          "| memories stored | worker peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    floor_cell = f"{floor_seconds:.2f} s" if floor_seconds is not None else "not run"
    print(f"| {total:,} | {n:,} of {size:,} | {args.workers} x --concurrency {args.worker_concurrency} | {floor_cell} "
          f"| {wall:.2f} s | {int(rows):,}, once each | " + " / ".join(f"{p:.0f} MB" for p in peaks) + " |")
    print(f"\n{total / wall:,.0f} memories/s; Parse's log: {parse_errors} error lines.")


def stats(values):
    return min(values), statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds-max", type=int, default=10000)
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--chunked", type=int, metavar="N", help="N requests of --chunk-size instead (see above)")
    parser.add_argument("--million", action="store_const", dest="chunked", const=1000, help="--chunked 1000")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--chunked-floor", action="store_true", help="time the floor for the same memories first")
    parser.add_argument("--chunked-timeout", type=float, default=1800, metavar="SECONDS")
    args = parser.parse_args()
    if args.chunked:
        return chunked(args)
    sizes = [int(s) for s in args.sizes.split(",")]

    stack = Stack(args.build)
    # The stack's workflow worker runs the workflows; the activities are ours.
    queue = stack.env["MEMBATCH_TASK_QUEUE"]
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="membatch-bench-") as work:
            for n in sizes:
                items = list(memories(n))
                items_path = os.path.join(work, f"items-{n}.jsonl")
                with open(items_path, "w") as f:
                    for item in items:
                        f.write(json.dumps(item) + "\n")
                times = {"floor": [], "objects": [], "seeds": [], "membatch": []}
                rss = []
                for r in range(args.repeat):
                    tag = f"bench-{n}-{r}-{os.getpid()}"
                    runs = {
                        "floor": lambda: floor(stack, items, tag + "-floor", work),
                        "objects": lambda: floor(stack, items, tag + "-objects", work, objects=True),
                        "membatch": lambda: membatch(stack, items_path, tag, n, queue),
                    }
                    if n <= args.seeds_max:
                        runs["seeds"] = lambda: seeds(stack, items, tag + "-seeds", work)
                    # Each repeat in another order: none is always the one
                    # that runs on a table the one before it just grew.
                    names = list(runs)
                    for name in names[r % len(names):] + names[:r % len(names)]:
                        stack.settle()
                        seconds, peak = runs[name]()
                        times[name].append(seconds)
                        if peak is not None:
                            rss.append(peak)
                    print(f"{n}: run {r + 1}: floor {times['floor'][-1]:.2f} s, objects {times['objects'][-1]:.2f} s, "
                          + (f"seeds {times['seeds'][-1]:.2f} s, " if times["seeds"] else "")
                          + f"membatch {times['membatch'][-1]:.2f} s ({rss[-1]:.0f} MB)", file=sys.stderr)
                rows.append((n, times, max(rss)))

            # Two workers on two batches, against one on one (the largest size).
            n = sizes[-1]
            items_path = os.path.join(work, f"items-{n}.jsonl")
            env = dict(stack.env, MEMBATCH_TASK_QUEUE=queue)
            pair = [f"bench-pair-{i}-{os.getpid()}" for i in range(2)]
            for batch_id in pair:
                submit(stack, items_path, batch_id, env)
            began = time.perf_counter()
            procs = [worker(stack, env) for _ in pair]
            for proc in procs:
                finish(proc)
            two = time.perf_counter() - began
            for batch_id in pair:
                if stack.count(batch_id) != n:
                    raise RuntimeError(f"two workers: {batch_id} does not hold {n} memories")
    finally:
        stack.down()

    print("| memories | Parse floor (/batch of 100, curl) | the same, whole objects | seeds' pattern (1 POST each) | membatch work "
          "| vs floor | vs objects floor | vs seeds | worker peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, times, peak in rows:
        fmin, fmed = stats(times["floor"])
        omin, omed = stats(times["objects"])
        mmin, mmed = stats(times["membatch"])
        if times["seeds"]:
            smin, smed = stats(times["seeds"])
            seeds_cell, vs_seeds = f"{smin:.2f} / {smed:.2f} s", f"{smed / mmed:.1f}x faster"
        else:
            seeds_cell, vs_seeds = "not run", ""
        print(f"| {n:,} | {fmin:.2f} / {fmed:.2f} s | {omin:.2f} / {omed:.2f} s | {seeds_cell} | {mmin:.2f} / {mmed:.2f} s | "
              f"{mmed / fmed:.2f}x | {mmed / omed:.2f}x | {vs_seeds} | {peak:.0f} MB |")
    one = stats(rows[-1][1]["membatch"])[1]
    print(f"\nTimes are min / median of {args.repeat}. Two workers, two batches of {sizes[-1]:,}: {two:.2f} s, "
          f"{2 * one / two:.2f}x the throughput of one worker on one batch ({one:.2f} s).")


if __name__ == "__main__":
    main()
