#!/usr/bin/env python3
"""Submit against its floor and its peers, in one run, with peak RSS.

Without --stack: submit's own work, without the network: `membatch submit
--dry-run` (read, check every item, dedup, cut chunks, libdeflate) against
`gzip -6` of the same file.

With --stack: on a local stack of its own (tests/stack/stack.sh), for each
size, in turns, --repeat times, the same seed-like memories sent in chunks
of 1000 four ways (no worker runs: only the submitting is timed):

  floor    the bare tools doing only the I/O: `gzip -6` of each chunk (split
           beforehand, not timed), then the uploads, the creates and the
           starts, each as one `curl --parallel --parallel-max 4`;
  membatch `membatch submit FILE --dedup off` (every item checked, 4 chunks in
           flight, libdeflate on the pool);
  python   bench/peers/python_stdlib_submit.py: the seeds' steps with urllib,
           json and gzip, one request at a time (up to --peers-max);
  sdk      bench/peers/parse_sdk_submit.mjs: the same with the Parse JS SDK.

Prints a Markdown table (min and median, ratios of medians to the floor),
and with matplotlib (python3-matplotlib) writes --png. Not in ctest.

usage: bench/submit_bench.py [--stack] [--build build] [--sizes 10000,100000,1000000]
                             [--repeat 3] [--peers-max 100000] [--png bench/submit.png]
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


def seed_like(n, path):
    """Memories as the seeds' batches carry them: a paragraph of text, a
    few metadata fields, two or three tags."""
    rng = random.Random(n)
    words = ("memory batch parse temporal workflow user context meeting note project deadline "
             "customer design review idea follow up decision summary question answer").split()
    with open(path, "w") as f:
        for i in range(n):
            content = " ".join(rng.choice(words) for _ in range(rng.randint(40, 90)))
            item = {
                "content": f"{i}: {content}",
                "metadata": {"source_id": f"doc-{i // 10}", "page": i % 50, "score": round(rng.random(), 4)},
                "tags": rng.sample(words, rng.randint(2, 3)),
                "customId": f"item-{i}",
            }
            f.write(json.dumps(item, separators=(",", ":")) + "\n")


def run(cmd, stdout=subprocess.DEVNULL):
    elapsed, rss, _ = timed(cmd, stdout=stdout)
    return elapsed, rss


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env=None, stdout=subprocess.DEVNULL):
    """Wall time, peak RSS (MiB, as /usr/bin/time -f %M reports it) and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M"] + cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    err = err.decode()
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {err[-2000:]}")
    return elapsed, int(err.strip().splitlines()[-1]) / 1024, out or b""


def floor(stack, chunks, prefix, tmp):
    """gzip -6 each chunk, then uploads, creates and starts, 4 at a time."""
    env = stack.env
    parse = env["MEMBATCH_PARSE_URL"].rstrip("/")
    temporal = env["MEMBATCH_TEMPORAL_URL"].rstrip("/")
    hdr = [f'header = "X-Parse-Application-Id: {env["MEMBATCH_APP_ID"]}"',
           f'header = "X-Parse-Master-Key: {env["MEMBATCH_MASTER_KEY"]}"']
    start = time.perf_counter()
    for c in chunks:
        with open(c + ".gz", "wb") as out:
            subprocess.run(["gzip", "-6", "-c", c], stdout=out, check=True)
    def curl(name, entries):
        cfg = os.path.join(tmp, f"{prefix}-{name}.curl")
        with open(cfg, "w") as f:
            for i, (url, extra, out) in enumerate(entries):
                # "next": each transfer its own headers and body.
                f.write(("next\n" if i else "") + f'url = "{url}"\n' + "\n".join(hdr + extra) + f'\noutput = "{out}"\n')
        subprocess.run(["curl", "-sf", "--no-progress-meter", "--parallel", "--parallel-max", "4", "-K", cfg], check=True)
    curl("upload", [(f"{parse}/files/batch_{prefix}-{n}.json.gz",
                     ['header = "Content-Type: application/gzip"', f'data-binary = "@{c}.gz"'], f"{c}.file")
                    for n, c in enumerate(chunks, 1)])
    creates = []
    for n, c in enumerate(chunks, 1):
        with open(c + ".file") as f:
            file = json.load(f)
        body = json.dumps({"batchId": f"{prefix}-{n}", "status": "pending", "totalMemories": 1000,
                           "batchDataFile": {"__type": "File", "name": file["name"], "url": file["url"]}})
        with open(c + ".create.json", "w") as f:
            f.write(body)
        creates.append((f"{parse}/classes/BatchMemoryRequest", ['header = "Content-Type: application/json"', f'data-binary = "@{c}.create.json"'],
                        f"{c}.request"))
    curl("create", creates)
    starts = []
    for n, c in enumerate(chunks, 1):
        with open(c + ".request") as f:
            request_id = json.load(f)["objectId"]
        with open(c + ".start.json", "w") as f:
            json.dump({"workflowId": f"batch-{prefix}-{n}", "workflowType": {"name": "ProcessBatchMemoryFromRequestWorkflow"},
                       "taskQueue": {"name": "bench-floor"}, "requestId": f"{prefix}-{n}",
                       "input": [{"request_id": request_id, "batch_id": f"{prefix}-{n}"}]}, f)
        starts.append((f"{temporal}/api/v1/namespaces/{env['MEMBATCH_NAMESPACE']}/workflows/batch-{prefix}-{n}",
                       ['header = "Content-Type: application/json"', f'data-binary = "@{c}.start.json"'], f"{c}.run"))
    curl("start", starts)
    return time.perf_counter() - start


def stack_bench(args, sizes):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from worker_bench import Stack  # the stack a benchmark runs on
    stack = Stack(args.build)
    env = dict(stack.env, MEMBATCH_TASK_QUEUE="bench-submit",
               MEMBATCH_NODE_MODULES=os.path.join(REPO, "tests", "node_modules"))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                path = os.path.join(tmp, f"m{n}.jsonl")
                seed_like(n, path)
                chunks = []
                with open(path) as f:
                    lines = f.readlines()
                for k in range(0, n, 1000):
                    c = os.path.join(tmp, f"m{n}-c{k // 1000}.jsonl")
                    with open(c, "w") as out:
                        out.write("[" + ",".join(line.strip() for line in lines[k:k + 1000]) + "]")
                    chunks.append(c)
                del lines
                times = {"floor": [], "membatch": [], "python": [], "sdk": []}
                rss = []
                gz = {}  # compressed bytes of the whole submission: gzip -6's, membatch's
                for r in range(args.repeat):
                    tag = f"b{n}r{r}{os.getpid()}"
                    times["floor"].append(floor(stack, chunks, "floor" + tag, tmp))
                    gz["gzip"] = sum(os.path.getsize(c + ".gz") for c in chunks)
                    # Each run its own submission: the same file again would
                    # only find the first.
                    t, m, out = timed([stack.membatch, "submit", path, "--dedup", "off", "--json",
                                       "--idempotency-key", tag], env=env, stdout=subprocess.PIPE)
                    times["membatch"].append(t)
                    rss.append(m)
                    last = json.loads(out.decode().strip().splitlines()[-1])
                    batch = last["batch"]
                    assert batch["chunkCount"] == len(chunks) and batch["chunksFound"] == len(chunks), batch
                    gz["membatch"] = batch["compressedBytes"]
                    if n <= args.peers_max:
                        times["python"].append(timed([sys.executable, os.path.join(REPO, "bench/peers/python_stdlib_submit.py"),
                                                      path, "py" + tag], env=env)[0])
                        times["sdk"].append(timed(["node", os.path.join(REPO, "bench/peers/parse_sdk_submit.mjs"),
                                                   path, "sdk" + tag], env=env)[0])
                rows.append((n, os.path.getsize(path), times, rss, gz))
                report(rows[-1])
    finally:
        stack.down()
    return rows


def med(values):
    return statistics.median(values) if values else float("nan")


def report(row):
    n, size, times, rss, gz = row
    base = med(times["floor"])
    parts = [f"{k} min {min(v):.2f} s median {med(v):.2f} s ({med(v) / base:.2f}x)" for k, v in times.items() if v]
    print(f"{n} memories ({size / 2**20:.0f} MiB): " + "; ".join(parts) + f"; membatch peak RSS {max(rss):.0f} MiB; "
          f"gzip bytes: gzip -6 {gz['gzip']:,}, membatch {gz['membatch']:,}", flush=True)


def table(rows, png):
    print("\n| memories | floor | membatch | Python stdlib | Parse JS SDK | membatch peak RSS | gzip bytes: `gzip -6` / membatch |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, size, times, rss, gz in rows:
        base = med(times["floor"])
        cell = lambda k: (f"{min(times[k]):.2f} / {med(times[k]):.2f} s ({med(times[k]) / base:.2f}x)" if times[k] else "-")
        print(f"| {n:,} | {cell('floor')} | {cell('membatch')} | {cell('python')} | {cell('sdk')} | {max(rss):.0f} MiB | "
              f"{gz['gzip']:,} / {gz['membatch']:,} ({gz['membatch'] / gz['gzip']:.3f}x) |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no PNG: install python3-matplotlib)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [r[0] for r in rows]
    for key, label in (("floor", "floor (gzip -6 + curl)"), ("membatch", "membatch submit"), ("python", "Python stdlib"), ("sdk", "Parse JS SDK")):
        xs = [r[0] for r in rows if r[2][key]]
        ax1.plot(xs, [med(r[2][key]) for r in rows if r[2][key]], marker="o", label=label)
    ax1.set_xscale("log"); ax1.set_yscale("log"); ax1.set_xlabel("memories"); ax1.set_ylabel("seconds (median)")
    ax1.set_title("submit, chunks of 1000"); ax1.legend()
    ax2.plot(sizes, [max(r[3]) for r in rows], marker="o", color="tab:orange")
    ax2.set_xscale("log"); ax2.set_xlabel("memories"); ax2.set_ylabel("MiB"); ax2.set_title("membatch peak RSS")
    ax2.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--membatch", default="build/host-stub/membatch")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stack", action="store_true")
    ap.add_argument("--peers-max", type=int, default=100000)
    ap.add_argument("--png", default=os.path.join(REPO, "bench", "submit.png"))
    args = ap.parse_args()
    if args.stack:
        table(stack_bench(args, [int(s) for s in args.sizes.split(",")]), args.png)
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            path = os.path.join(tmp, f"m{n}.jsonl")
            seed_like(n, path)
            size = os.path.getsize(path)
            floor, tool, rss = [], [], []
            for _ in range(args.repeat):
                t, _ = run(["gzip", "-6", "-c", path])
                floor.append(t)
                t, r = run([args.membatch, "submit", path, "--dry-run", "--json"])
                tool.append(t)
                rss.append(r)
            rows.append((n, size, floor, tool, rss))
            print(f"{n} memories ({size / 2**20:.0f} MiB): gzip -6 min {min(floor):.2f} s median "
                  f"{statistics.median(floor):.2f} s; membatch --dry-run min {min(tool):.2f} s median "
                  f"{statistics.median(tool):.2f} s ({statistics.median(tool) / statistics.median(floor):.2f}x); "
                  f"peak RSS {max(rss):.0f} MiB", flush=True)

    print("\n| memories | input | `gzip -6` (min / median) | `submit --dry-run` (min / median) | ratio (medians) | peak RSS |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, size, floor, tool, rss in rows:
        print(f"| {n:,} | {size / 2**20:.0f} MiB | {min(floor):.2f} / {statistics.median(floor):.2f} s | "
              f"{min(tool):.2f} / {statistics.median(tool):.2f} s | "
              f"{statistics.median(tool) / statistics.median(floor):.2f}x | {max(rss):.0f} MiB |")


if __name__ == "__main__":
    main()
