"""ProcessBatchMemoryFromRequestWorkflow against a real Temporal server.

Run with the stack's env sourced (it sets MEMBATCH_TEMPORAL_ADDRESS):

    PYTHONPATH=/work/main/resources/temporal /work/main/.venv/bin/python \
        -m unittest discover -s /work/main/tests/workflow -v

Each test runs its own in-process worker on its own task queue, with a fake
Python activity under the C++ activity's name, so the stack's workers never
see these workflows and the tests do not depend on Parse. The timings
asserted are the server's own (retry back-off, heartbeat timeout): that is
the point of using a real server rather than the time-skipping one.
"""

import asyncio
import contextlib
import logging
import os
import time
import unittest
import uuid
from datetime import datetime, timedelta, timezone

from temporalio import activity
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
)
from temporalio.worker import Worker

from membatch_workflow.workflow import (
    ACTIVITY_TYPE,
    SETTLE_ACTIVITY_TYPE,
    WEBHOOK_ACTIVITY_TYPE,
    ProcessBatchMemoryFromRequestWorkflow,
)

INPUT = {"request_id": "r1", "batch_id": "b1"}

# Bounds on every wait, so a wrong workflow fails a test instead of hanging
# it. They are generous next to what each step should take.
CONNECT_TIMEOUT = 10
SHORT_TIMEOUT = 15      # no retries involved
RETRY_TIMEOUT = 25      # three attempts: 2 s + 4 s of back-off
HEARTBEAT_TIMEOUT = 40  # 10 s heartbeat timeout + 2 s back-off, asserted < 30 s
SHUTDOWN_TIMEOUT = 15


def setUpModule():
    # The SDK logs a warning with a traceback for every failed attempt; here
    # the failures are what is being tested, so they would only bury the
    # results. Errors still show.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)


def _duration_s(d) -> float:
    """A protobuf Duration in seconds."""
    return d.seconds + d.nanos / 1e9


def _events(history, event_type):
    return [e for e in history.events if e.event_type == event_type]


def _settle_recorder(calls):
    """A fake of the worker's settle_batch_request: records its arguments."""

    @activity.defn(name=SETTLE_ACTIVITY_TYPE)
    async def settle(*args):
        calls.append(list(args))
        return {"status": args[2] if len(args) > 2 else None, "changed": True}

    return settle


def _webhook_recorder(calls):
    """A fake of the worker's deliver_batch_webhook: records its arguments."""

    @activity.defn(name=WEBHOOK_ACTIVITY_TYPE)
    async def deliver(*args):
        calls.append(list(args))
        return {"sent": False, "reason": "no webhook"}

    return deliver


@contextlib.asynccontextmanager
async def _running_worker(client, task_queue, activity_fn, settled=None, notified=None, **worker_options):
    """An in-process worker for this test's queue; shut down in bounded time.

    Besides activity_fn (the batch activity's fake) it runs fakes of the
    settle activity, whose calls go into `settled`, and of the webhook
    activity (`notified`).
    Not `async with Worker(...)`: its exit waits without a bound.
    graceful_shutdown_timeout stays 0, so an activity still blocked (the
    heartbeat test leaves one) is cancelled at once on shutdown.
    """
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[ProcessBatchMemoryFromRequestWorkflow],
        activities=[
            activity_fn,
            _settle_recorder(settled if settled is not None else []),
            _webhook_recorder(notified if notified is not None else []),
        ],
        **worker_options,
    )
    run = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        await asyncio.wait_for(worker.shutdown(), SHUTDOWN_TIMEOUT)
        await asyncio.wait_for(run, SHUTDOWN_TIMEOUT)


class WorkflowTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        address = os.environ.get("MEMBATCH_TEMPORAL_ADDRESS")
        if not address:
            self.fail(
                "MEMBATCH_TEMPORAL_ADDRESS is not set: start the stack "
                "(tests/stack/stack.sh up --dir DIR) and `source DIR/env` first"
            )
        namespace = os.environ.get("MEMBATCH_NAMESPACE", "default")
        self.client = await asyncio.wait_for(
            Client.connect(address, namespace=namespace), CONNECT_TIMEOUT
        )
        # A queue of our own: the stack's workers poll membatch-batches.
        self.task_queue = f"wf-test-{uuid.uuid4()}"
        self.addAsyncCleanup(self.terminate_leftovers)
        self.handles: list[WorkflowHandle] = []

    async def start(self, arg=INPUT):
        # No execution timeout: the server would cap the activity's
        # start-to-close at it, and test 2 checks the real hour.
        handle = await asyncio.wait_for(
            self.client.start_workflow(
                ProcessBatchMemoryFromRequestWorkflow.run,
                arg,
                id=f"{self.task_queue}-{uuid.uuid4()}",
                task_queue=self.task_queue,
            ),
            CONNECT_TIMEOUT,
        )
        self.handles.append(handle)
        return handle

    async def terminate_leftovers(self):
        """Ends what a failed test left running; nobody polls its queue now."""
        for handle in self.handles:
            desc = await asyncio.wait_for(handle.describe(), CONNECT_TIMEOUT)
            if desc.status == WorkflowExecutionStatus.RUNNING:
                await asyncio.wait_for(handle.terminate("test cleanup"), CONNECT_TIMEOUT)

    async def history(self, handle):
        return await asyncio.wait_for(handle.fetch_history(), CONNECT_TIMEOUT)

    async def failure(self, handle, timeout):
        """The WorkflowFailureError the run ends with (fails if it succeeds)."""
        with self.assertRaises(WorkflowFailureError) as ctx:
            await asyncio.wait_for(handle.result(), timeout)
        return ctx.exception

    # 1 ---------------------------------------------------------------------

    async def test_activity_gets_the_two_ids_and_its_result_is_returned(self):
        calls = []
        result = {"processed": 7, "nested": {"ok": True, "list": [1, "two"]}, "webhook": True}

        # *args, so an extra or missing argument shows up instead of being
        # rejected (or defaulted) by the SDK before we can see it.
        @activity.defn(name=ACTIVITY_TYPE)
        async def fake(*args):
            calls.append(list(args))
            return result

        settled = []
        notified = []
        async with _running_worker(self.client, self.task_queue, fake, settled, notified):
            handle = await self.start()
            got = await asyncio.wait_for(handle.result(), SHORT_TIMEOUT)

        self.assertEqual(calls, [["r1", "b1"]])
        self.assertEqual(got, result)
        self.assertEqual(settled, [], "a batch that completed needs no settling")
        self.assertEqual(notified, [["r1", "b1"]], "the webhook comes once, after the batch")

    async def test_no_webhook_activity_when_none_is_asked_for(self):
        @activity.defn(name=ACTIVITY_TYPE)
        async def fake(*args):
            return {"status": "completed", "webhook": False}

        notified = []
        async with _running_worker(self.client, self.task_queue, fake, notified=notified):
            handle = await self.start()
            await asyncio.wait_for(handle.result(), SHORT_TIMEOUT)
            history = await self.history(handle)
        self.assertEqual(notified, [])
        self.assertEqual(len(_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)), 1)

    # 2 ---------------------------------------------------------------------

    async def test_scheduled_activity_options_and_inputs(self):
        @activity.defn(name=ACTIVITY_TYPE)
        async def fake(*args):
            return {"status": "completed", "webhook": True}

        async with _running_worker(self.client, self.task_queue, fake):
            handle = await self.start()
            await asyncio.wait_for(handle.result(), SHORT_TIMEOUT)
            history = await self.history(handle)

        converter = self.client.data_converter

        # The workflow carries only the reference to the batch, never its
        # content: a single payload with exactly the two ids.
        (started,) = _events(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
        wf_input = started.workflow_execution_started_event_attributes.input.payloads
        self.assertEqual(await converter.decode(wf_input), [INPUT])

        scheduled, webhook = _events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        # Once the batch has ended: its webhook, with the same two ids.
        hook = webhook.activity_task_scheduled_event_attributes
        self.assertEqual(hook.activity_type.name, "deliver_batch_webhook")
        self.assertEqual(await converter.decode(hook.input.payloads), ["r1", "b1"])
        self.assertEqual(_duration_s(hook.heartbeat_timeout), 30)
        self.assertEqual(hook.retry_policy.maximum_attempts, 0)  # the worker says when to stop
        self.assertEqual(_duration_s(hook.start_to_close_timeout), 120)
        attrs = scheduled.activity_task_scheduled_event_attributes
        self.assertEqual(attrs.activity_type.name, "fetch_and_process_batch_memories")
        self.assertEqual(attrs.task_queue.name, self.task_queue)
        self.assertEqual(await converter.decode(attrs.input.payloads), ["r1", "b1"])
        self.assertEqual(_duration_s(attrs.start_to_close_timeout), 3600)
        self.assertEqual(_duration_s(attrs.heartbeat_timeout), 10)
        retry = attrs.retry_policy
        self.assertEqual(retry.maximum_attempts, 3)
        self.assertEqual(_duration_s(retry.initial_interval), 2)
        self.assertEqual(retry.backoff_coefficient, 2.0)
        self.assertEqual(_duration_s(retry.maximum_interval), 300)

    # 3 ---------------------------------------------------------------------

    async def test_retryable_errors_are_retried_with_backoff(self):
        starts = []  # (attempt, monotonic time)

        @activity.defn(name=ACTIVITY_TYPE)
        async def flaky(request_id, batch_id):
            attempt = activity.info().attempt
            starts.append((attempt, time.monotonic()))
            if attempt < 3:
                raise ApplicationError(f"transient failure {attempt}")  # retryable
            return {"attempt": attempt}

        async with _running_worker(self.client, self.task_queue, flaky):
            handle = await self.start()
            got = await asyncio.wait_for(handle.result(), RETRY_TIMEOUT)

        self.assertEqual(got, {"attempt": 3})
        self.assertEqual([a for a, _ in starts], [1, 2, 3])
        # initial_interval 2 s, then x2 back-off; the slack is for clock and
        # timer granularity, a policy without back-off would be far below.
        gap1 = starts[1][1] - starts[0][1]
        gap2 = starts[2][1] - starts[1][1]
        self.assertGreaterEqual(gap1, 1.8, f"gaps {gap1:.2f} s, {gap2:.2f} s")
        self.assertGreaterEqual(gap2, 3.6, f"gaps {gap1:.2f} s, {gap2:.2f} s")

    async def test_workflow_fails_after_exactly_three_attempts(self):
        attempts = []

        @activity.defn(name=ACTIVITY_TYPE)
        async def always_failing(request_id, batch_id):
            attempts.append(activity.info().attempt)
            raise ApplicationError("still broken")  # retryable

        settled = []
        async with _running_worker(self.client, self.task_queue, always_failing, settled):
            handle = await self.start()
            err = await self.failure(handle, RETRY_TIMEOUT)

        self.assertEqual(attempts, [1, 2, 3])
        # The workflow has the last word on the request, with the reason.
        self.assertEqual(settled, [["r1", "b1", "failed", "the batch's activity failed for good: still broken"]])
        self.assertIsInstance(err.cause, ActivityError)
        self.assertEqual(err.cause.retry_state, RetryState.MAXIMUM_ATTEMPTS_REACHED)
        self.assertIsInstance(err.cause.cause, ApplicationError)
        self.assertEqual(err.cause.cause.message, "still broken")

    # 4 ---------------------------------------------------------------------

    async def test_non_retryable_error_fails_after_one_attempt(self):
        attempts = []

        @activity.defn(name=ACTIVITY_TYPE)
        async def broken(request_id, batch_id):
            attempts.append(activity.info().attempt)
            raise ApplicationError("batch is malformed", type="BadBatch", non_retryable=True)

        settled = []
        async with _running_worker(self.client, self.task_queue, broken, settled):
            handle = await self.start()
            err = await self.failure(handle, SHORT_TIMEOUT)
            history = await self.history(handle)

        self.assertEqual(attempts, [1])
        self.assertEqual(settled, [["r1", "b1", "failed", "the batch's activity failed for good: batch is malformed"]])
        # The settling is retried until a worker and Parse are back (a day).
        settle = [e.activity_task_scheduled_event_attributes
                  for e in _events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
                  if e.activity_task_scheduled_event_attributes.activity_type.name == SETTLE_ACTIVITY_TYPE]
        self.assertEqual(len(settle), 1)
        self.assertEqual(_duration_s(settle[0].start_to_close_timeout), 60)
        self.assertEqual(_duration_s(settle[0].schedule_to_close_timeout), 86400)
        self.assertEqual(settle[0].retry_policy.maximum_attempts, 0)  # unlimited, within the day
        self.assertIsInstance(err.cause, ActivityError)
        self.assertEqual(err.cause.retry_state, RetryState.NON_RETRYABLE_FAILURE)
        self.assertIsInstance(err.cause.cause, ApplicationError)
        self.assertEqual(err.cause.cause.type, "BadBatch")

    async def test_a_cancel_while_settling_a_failure_does_not_stop_the_settling(self):
        settling = asyncio.Event()
        release = asyncio.Event()
        settled = []
        notified = []

        @activity.defn(name=ACTIVITY_TYPE)
        async def broken(request_id, batch_id):
            raise ApplicationError("batch is malformed", non_retryable=True)

        @activity.defn(name=SETTLE_ACTIVITY_TYPE)
        async def slow_settle(*args):
            settling.set()
            await release.wait()  # held until the cancel is in
            settled.append(list(args))
            return {"status": "failed", "changed": True, "webhook": True}

        worker = Worker(self.client, task_queue=self.task_queue,
                        workflows=[ProcessBatchMemoryFromRequestWorkflow],
                        activities=[broken, slow_settle, _webhook_recorder(notified)])
        run = asyncio.create_task(worker.run())
        try:
            handle = await self.start()
            await asyncio.wait_for(settling.wait(), SHORT_TIMEOUT)
            await asyncio.wait_for(handle.cancel(), CONNECT_TIMEOUT)
            # Let the settling finish only once the cancel has reached the run.
            async def cancel_recorded():
                while not _events(await self.history(handle), EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED):
                    await asyncio.sleep(0.1)  # polling the server's history, bounded below
            await asyncio.wait_for(cancel_recorded(), SHORT_TIMEOUT)
            release.set()
            err = await self.failure(handle, SHORT_TIMEOUT)
            history = await self.history(handle)
        finally:
            await asyncio.wait_for(worker.shutdown(), SHUTDOWN_TIMEOUT)
            await asyncio.wait_for(run, SHUTDOWN_TIMEOUT)

        self.assertEqual(len(settled), 1, "the settling was cut short by the cancel")
        self.assertEqual(notified, [["r1", "b1"]], "the webhook was not delivered after the cancel")
        self.assertEqual(settled[0][2], "failed")
        # The run ends as the batch did: failed, with the batch's error.
        self.assertIsInstance(err.cause, ActivityError)
        self.assertEqual(err.cause.cause.message, "batch is malformed")
        self.assertEqual(_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), [])

    # 5 ---------------------------------------------------------------------

    async def test_invalid_input_fails_the_run_without_scheduling_the_activity(self):
        calls = []

        @activity.defn(name=ACTIVITY_TYPE)
        async def fake(*args):
            calls.append(args)
            return "should not run"

        cases = {
            "missing batch_id": {"request_id": "r1"},
            "empty request_id": {"request_id": "", "batch_id": "b1"},
            "not an object": "r1/b1",
        }
        async with _running_worker(self.client, self.task_queue, fake):
            for name, bad_input in cases.items():
                with self.subTest(name):
                    handle = await self.start(bad_input)
                    # A plain exception would fail the workflow *task* and be
                    # retried forever; the bound turns that into a failure.
                    err = await self.failure(handle, SHORT_TIMEOUT)
                    self.assertIsInstance(err.cause, ApplicationError)
                    self.assertIn("invalid workflow input", err.cause.message)
                    self.assertTrue(err.cause.non_retryable)
                    history = await self.history(handle)
                    self.assertEqual(_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), [])
                    self.assertEqual(_events(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED), [])
                    self.assertEqual(len(_events(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED)), 1)
        self.assertEqual(calls, [])

    # 6 ---------------------------------------------------------------------

    async def test_cancellation_waits_for_the_activity(self):
        started = asyncio.Event()
        seen = {}

        @activity.defn(name=ACTIVITY_TYPE)
        async def long_running(request_id, batch_id):
            started.set()
            try:
                while True:
                    activity.heartbeat()
                    await asyncio.sleep(0.1)  # pacing, not synchronisation
            except asyncio.CancelledError:
                seen["cancelled_at"] = datetime.now(timezone.utc)
                raise

        # The worker delivers a cancel only with a heartbeat response, and
        # by default sends heartbeats at most every 0.8 x heartbeat timeout
        # (8 s). A short throttle keeps the test fast; the order of events
        # asserted below does not depend on it.
        settled = []
        async with _running_worker(
            self.client, self.task_queue, long_running, settled,
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ):
            handle = await self.start()
            await asyncio.wait_for(started.wait(), SHORT_TIMEOUT)
            await asyncio.wait_for(handle.cancel(), CONNECT_TIMEOUT)
            err = await self.failure(handle, SHORT_TIMEOUT)
            desc = await asyncio.wait_for(handle.describe(), CONNECT_TIMEOUT)
            history = await self.history(handle)

        self.assertIsInstance(err.cause, CancelledError)
        self.assertEqual(desc.status, WorkflowExecutionStatus.CANCELED)
        # A request the activity left open (canceled before a worker took it,
        # say) is settled canceled; the worker leaves a final one alone.
        self.assertEqual(settled, [["r1", "b1", "canceled", "the batch was canceled"]])
        self.assertIn("cancelled_at", seen, "the activity never saw the cancel")
        self.assertLessEqual(seen["cancelled_at"], desc.close_time)

        # With TRY_CANCEL or ABANDON the run would close right after the
        # cancel request and the activity's report would never be recorded.
        order = [e.event_type for e in history.events]
        requested = order.index(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED)
        canceled = order.index(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)
        closed = order.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED)
        self.assertLess(requested, canceled)
        self.assertLess(canceled, closed)

    # 7 ---------------------------------------------------------------------

    async def test_silent_activity_is_timed_out_by_heartbeat_and_retried(self):
        starts = {}  # attempt -> monotonic time
        never = asyncio.Event()

        @activity.defn(name=ACTIVITY_TYPE)
        async def hangs_once(request_id, batch_id):
            attempt = activity.info().attempt
            starts[attempt] = time.monotonic()
            if attempt == 1:
                # A worker that died: no heartbeat, no answer. Waiting on an
                # event keeps it cancellable, so worker shutdown is clean
                # (the SDK core then logs one WARN "Activity not found on
                # completion": the server has long written this attempt off).
                await never.wait()
            return {"attempt": attempt}

        async with _running_worker(self.client, self.task_queue, hangs_once):
            handle = await self.start()
            got = await asyncio.wait_for(handle.result(), HEARTBEAT_TIMEOUT)
            history = await self.history(handle)

        self.assertEqual(got, {"attempt": 2})
        gap = starts[2] - starts[1]
        # 10 s heartbeat timeout (+ 2 s back-off), not the 1 h start-to-close.
        self.assertGreaterEqual(gap, 9, f"attempt 2 started {gap:.2f} s after attempt 1")
        self.assertLess(gap, 30, f"attempt 2 started {gap:.2f} s after attempt 1")

        # The server records the started event of the attempt that finished,
        # with the failure of the attempt before it.
        # (The first: the batch's activity; the webhook's comes after.)
        act_started = _events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)[0]
        attrs = act_started.activity_task_started_event_attributes
        self.assertEqual(attrs.attempt, 2)
        self.assertEqual(
            attrs.last_failure.timeout_failure_info.timeout_type,
            TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
        )


if __name__ == "__main__":
    unittest.main()
