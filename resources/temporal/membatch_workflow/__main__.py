"""A workflow worker: python -m membatch_workflow --address HOST:PORT [...]

It runs only the workflow; the activity's tasks go to `membatch work`.
It waits for the server when it is not up yet, and stops cleanly on SIGTERM
or SIGINT (a supervisor restarts it if it dies).
"""

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from .workflow import ProcessBatchMemoryFromRequestWorkflow

log = logging.getLogger("membatch.workflow")


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m membatch_workflow", description=__doc__.splitlines()[0])
    p.add_argument("--address", default=env("MEMBATCH_TEMPORAL_ADDRESS"),
                   help="Temporal's gRPC frontend, HOST:PORT ($MEMBATCH_TEMPORAL_ADDRESS)")
    p.add_argument("--namespace", default=env("MEMBATCH_NAMESPACE", "default"),
                   help="namespace ($MEMBATCH_NAMESPACE, default 'default')")
    p.add_argument("--task-queue", default=env("MEMBATCH_TASK_QUEUE", "membatch-batches"),
                   help="task queue ($MEMBATCH_TASK_QUEUE, default 'membatch-batches')")
    p.add_argument("--identity", default=f"membatch-workflow@{socket.gethostname()}:{os.getpid()}",
                   help="identity shown in Temporal")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long to wait for the server at start (default 30)")
    args = p.parse_args(argv)
    if not args.address:
        p.error("set --address or MEMBATCH_TEMPORAL_ADDRESS")
    return args


async def connect(args) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.connect_timeout
    delay = 0.1
    while True:
        try:
            return await Client.connect(args.address, namespace=args.namespace, identity=args.identity)
        except Exception as e:  # the SDK raises RuntimeError for a refused connection
            if loop.time() + delay > deadline:
                raise SystemExit(f"membatch-workflow: cannot reach Temporal at {args.address}: {e}")
            log.info("Temporal at %s not reachable yet (%s); retrying", args.address, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def main(argv) -> int:
    args = parse_args(argv)
    client = await connect(args)
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[ProcessBatchMemoryFromRequestWorkflow],
        identity=args.identity,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        # One line on stdout once polling: the stack waits for it.
        print(f"membatch-workflow: polling {args.namespace}/{args.task_queue} at {args.address}", flush=True)
        await stop.wait()
        log.info("stopping")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("MEMBATCH_WORKFLOW_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    sys.exit(asyncio.run(main(sys.argv[1:])))
