#!/usr/bin/env python3
"""Submit's own work, without the network: `membatch submit --dry-run` (read,
check every item, dedup, cut chunks, libdeflate) against the floor of the
bare tool doing only the compression (`gzip -6` of the same file), for
seed-like memories at several sizes, with peak RSS. Not in ctest.

usage: bench/submit_bench.py [--membatch build/host-stub/membatch]
                             [--sizes 10000,100000,1000000] [--repeat 3]
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
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed: {err}")
    return elapsed, usage.ru_maxrss / 1024  # MiB


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--membatch", default="build/host-stub/membatch")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

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
