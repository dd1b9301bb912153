#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for tests: loopback only, bounded in
faults and in time.

It forwards each request to the target and, at --rate, answers it with a
fault instead: a connection reset, 429 or 503 with Retry-After, an answer
cut off half way (after the target has acted on the request), or a stall
before forwarding. At most --max-faults faults are injected; after
--max-seconds the proxy exits. The Host header is rewritten to the target's,
so the server builds its urls as if called directly.

It prints the port it listens on as its first line, then a JSON line for
each fault as it injects it (a test can wait for one), and its counts as
JSON on stderr when it ends (SIGTERM, or --max-seconds). --paths limits the
faults to the requests whose "METHOD /path" matches.

usage: faultproxy.py --target 127.0.0.1:1337 [--rate 0.2]
                     [--seed 1] [--faults reset,429,503,truncate,stall]
                     [--max-faults 200] [--max-seconds 600] [--log F]
"""
import argparse
import asyncio
import json
import random
import re
import signal
import socket
import struct
import sys
import time

FAULTS = ("reset", "429", "503", "truncate", "stall")


class Proxy:
    def __init__(self, args):
        self.target_host, port = args.target.rsplit(":", 1)
        self.target_port = int(port)
        self.rate = args.rate
        self.rng = random.Random(args.seed)
        self.faults = args.faults
        self.max_faults = args.max_faults
        self.stall_seconds = args.stall_seconds
        self.paths = re.compile(args.paths) if args.paths else None
        self.counts = {"requests": 0, **{f: 0 for f in FAULTS}}
        self.injected = 0
        self.log = open(args.log, "a") if args.log else None

    def note(self, what, head):
        first = head.split(b"\r\n", 1)[0].decode("latin-1")
        line = json.dumps({"t": round(time.time(), 3), "fault": what, "request": first})
        print(line, flush=True)  # a test may wait for it
        if self.log:
            self.log.write(line + "\n")
            self.log.flush()

    def pick(self, head):
        if self.paths:
            method, path = head.split(b" ", 2)[:2]
            if not self.paths.search(f"{method.decode()} {path.decode().split('?')[0]}"):
                return None
        if self.injected >= self.max_faults or self.rng.random() >= self.rate:
            return None
        self.injected += 1
        return self.rng.choice(self.faults)

    async def read_request(self, reader):
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        return head, body

    def rewrite(self, head):
        lines = head.split(b"\r\n")
        out = [lines[0]]
        for line in lines[1:]:
            name = line.partition(b":")[0].strip().lower()
            if name in (b"host", b"connection", b"keep-alive"):
                continue
            out.append(line)
        # One upstream connection a request: its answer ends when it closes.
        out.insert(1, b"Host: %s:%d" % (self.target_host.encode(), self.target_port))
        out.insert(2, b"Connection: close")
        return b"\r\n".join(out)

    async def forward(self, head, body):
        reader, writer = await asyncio.open_connection(self.target_host, self.target_port)
        writer.write(self.rewrite(head) + body)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    async def client(self, reader, writer):
        try:
            while True:
                try:
                    head, body = await self.read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.counts["requests"] += 1
                fault = self.pick(head)
                if fault:
                    self.counts[fault] += 1
                    self.note(fault, head)
                if fault == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if fault in ("429", "503"):
                    text = b'{"code":1,"error":"injected by the fault proxy"}'
                    reason = b"Too Many Requests" if fault == "429" else b"Service Unavailable"
                    writer.write(b"HTTP/1.1 %s %s\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (fault.encode(), reason, len(text), text))
                    await writer.drain()
                    continue
                if fault == "stall":
                    await asyncio.sleep(self.stall_seconds)
                answer = await self.forward(head, body)
                if fault == "truncate":
                    split = answer.find(b"\r\n\r\n") + 4
                    answer = answer[: split + max(0, (len(answer) - split) // 2)]
                writer.write(answer)
                await writer.drain()
                # The answer said "Connection: close" (ours upstream): so do we.
                writer.close()
                return
        except ConnectionError:
            return


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--max-faults", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--stall-seconds", type=float, default=2.0)
    ap.add_argument("--paths", help="only requests whose 'METHOD /path' matches this regex get faults")
    ap.add_argument("--log")
    args = ap.parse_args()
    args.faults = [f for f in args.faults.split(",") if f]
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        sys.exit(f"faultproxy: unknown faults {sorted(unknown)} (known: {', '.join(FAULTS)})")

    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(port, flush=True)  # the one line on stdout: where to connect
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()
    print(json.dumps({"port": port, "injected": proxy.injected, **proxy.counts}), file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
