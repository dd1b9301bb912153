#!/usr/bin/env python3
"""Worker throughput against its floor and its peer, measured in one run.

Starts a local stack of its own (tests/stack/stack.sh), then for each size
stores the same seed-like memories three ways, in turns, --repeat times:

  floor    Parse Server's own floor: the memories as /parse/batch calls of
           100 (one curl process, one keep-alive connection, one call at a
           time), with the master key. Nothing is read, checked or counted.
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
"""

import argparse
import json
import os
import random
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

    def url(self, path):
        return self.env["MEMBATCH_PARSE_URL"].rstrip("/") + path

    def count(self, batch_id):
        query = urllib.parse.urlencode({"where": json.dumps({"batchId": batch_id}), "count": 1, "limit": 0})
        req = urllib.request.Request(self.url("/classes/Memory?" + query), headers=self.headers)
        with urllib.request.urlopen(req) as answer:
            return json.load(answer)["count"]


def floor(stack, items, batch_id, work):
    """The memories as /batch calls of 100 from one curl process."""
    path = stack.parse.path.rstrip("/") + "/classes/Memory"
    config = os.path.join(work, "floor.curl")
    with open(config, "w") as cfg:
        for start in range(0, len(items), 100):
            body = {"requests": [{"method": "POST", "path": path, "body": dict(item, batchId=batch_id)}
                                 for item in items[start:start + 100]]}
            name = os.path.join(work, f"floor-{start}.json")
            with open(name, "w") as f:
                json.dump(body, f, separators=(",", ":"))
            if start:
                cfg.write("next\n")
            cfg.write(f'url = "{stack.url("/batch")}"\n')
            for key, value in stack.headers.items():
                cfg.write(f'header = "{key}: {value}"\n')
            cfg.write(f'data-binary = "@{name}"\nsilent\noutput = "/dev/null"\n')
    began = time.perf_counter()
    subprocess.run(["curl", "--fail", "-K", config], check=True)
    return time.perf_counter() - began, None


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
    subprocess.run([stack.membatch, "submit", path, "--batch-id", batch_id], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def membatch(stack, items_path, batch_id, n, queue):
    env = dict(stack.env, MEMBATCH_TASK_QUEUE=queue)
    submit(stack, items_path, batch_id, env)
    seconds, rss = finish(worker(stack, env))
    got = stack.count(batch_id)
    if got != n:
        raise RuntimeError(f"membatch: {got} Memory objects for {batch_id}, expected {n}")
    return seconds, rss


def stats(values):
    return min(values), statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds-max", type=int, default=10000)
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    args = parser.parse_args()
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
                times = {"floor": [], "seeds": [], "membatch": []}
                rss = []
                for r in range(args.repeat):
                    tag = f"bench-{n}-{r}-{os.getpid()}"
                    times["floor"].append(floor(stack, items, tag + "-floor", work)[0])
                    if n <= args.seeds_max:
                        times["seeds"].append(seeds(stack, items, tag + "-seeds", work)[0])
                    seconds, peak = membatch(stack, items_path, tag, n, queue)
                    times["membatch"].append(seconds)
                    rss.append(peak)
                    print(f"{n}: run {r + 1}: floor {times['floor'][-1]:.2f} s, "
                          + (f"seeds {times['seeds'][-1]:.2f} s, " if times["seeds"] else "")
                          + f"membatch {seconds:.2f} s ({peak:.0f} MB)", file=sys.stderr)
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

    print("| memories | Parse floor (/batch of 100, curl) | seeds' pattern (1 POST each) | membatch work | vs floor | vs seeds | worker peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, times, peak in rows:
        fmin, fmed = stats(times["floor"])
        mmin, mmed = stats(times["membatch"])
        if times["seeds"]:
            smin, smed = stats(times["seeds"])
            seeds_cell, vs_seeds = f"{smin:.2f} / {smed:.2f} s", f"{smed / mmed:.1f}x faster"
        else:
            seeds_cell, vs_seeds = "not run", ""
        print(f"| {n:,} | {fmin:.2f} / {fmed:.2f} s | {seeds_cell} | {mmin:.2f} / {mmed:.2f} s | "
              f"{mmed / fmed:.2f}x | {vs_seeds} | {peak:.0f} MB |")
    one = stats(rows[-1][1]["membatch"])[1]
    print(f"\nTimes are min / median of {args.repeat}. Two workers, two batches of {sizes[-1]:,}: {two:.2f} s, "
          f"{2 * one / two:.2f}x the throughput of one worker on one batch ({one:.2f} s).")


if __name__ == "__main__":
    main()
