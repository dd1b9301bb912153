"""ProcessBatchMemoryFromRequestWorkflow, as seed 000 (Component 2) has it.

The batch itself lives in Parse; the workflow sees only the reference and
hands it to the activity. What the seeds lack is added here: a heartbeat
timeout, so a dead worker is noticed in seconds rather than after the hour
of start-to-close, and cancellation that waits for the activity to report.
"""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

WORKFLOW_TYPE = "ProcessBatchMemoryFromRequestWorkflow"
ACTIVITY_TYPE = "fetch_and_process_batch_memories"

START_TO_CLOSE_TIMEOUT = timedelta(hours=1)
# The C++ worker heartbeats every third of this (it reads the value from
# its task), whatever Parse is doing, so ten seconds leave it ample room.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
RETRY_POLICY = RetryPolicy(
    maximum_attempts=3,
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)

# When the activity ends without settling its request (Parse unreachable to
# the end, a worker killed on the last attempt, a cancel before any worker
# took it), the workflow has the last word on it: the request must never
# say pending or processing forever. The worker implements this one too;
# it leaves a request that is already final as it is.
SETTLE_ACTIVITY_TYPE = "settle_batch_request"
SETTLE_START_TO_CLOSE_TIMEOUT = timedelta(minutes=1)
SETTLE_SCHEDULE_TO_CLOSE_TIMEOUT = timedelta(days=1)  # until a worker and Parse are back
SETTLE_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["BadInput", "BatchDataError"],
)

# When the batch has ended, however it ended, its webhook is delivered by
# this activity, implemented by the C++ worker too, if the submitter asked
# for one: the batch's activity (or the settling) says so in its result,
# {"webhook": true}; a batch without one runs no third activity. Each
# attempt is one delivery; a failed one asks for its next retry delay
# (the worker's back-off), and the worker completes the activity when it
# has given up, so the attempts are bounded by the worker's count and a
# day. Its outcome never changes the run's. A chunk of a submission runs it
# too: the worker sends the submission's one message from the run of the
# chunk that finds every chunk ended and wins the claim on it, and ends the
# others' at once; Temporal's retries of that run carry the message through
# a worker dying after it claimed.
WEBHOOK_ACTIVITY_TYPE = "deliver_batch_webhook"
WEBHOOK_START_TO_CLOSE_TIMEOUT = timedelta(minutes=2)  # one delivery (15 s at most) and its records
WEBHOOK_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
WEBHOOK_SCHEDULE_TO_CLOSE_TIMEOUT = timedelta(days=1)
WEBHOOK_RETRY_POLICY = RetryPolicy(
    maximum_attempts=0,  # the worker says when to stop
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=["BadInput"],
)


def _reference(request_ref: Any) -> tuple[str, str]:
    """The (request_id, batch_id) of a workflow input, or a non-retryable error.

    Raising a plain exception here would fail the workflow *task* and have
    Temporal retry it forever; an ApplicationError fails the run at once.
    """
    if not isinstance(request_ref, dict):
        raise ApplicationError(
            f"invalid workflow input: expected an object with request_id and batch_id, got {type(request_ref).__name__}",
            type="InvalidWorkflowInput",
            non_retryable=True,
        )
    ids = []
    for key in ("request_id", "batch_id"):
        value = request_ref.get(key)
        if not isinstance(value, str) or not value:
            raise ApplicationError(
                f"invalid workflow input: '{key}' must be a non-empty string",
                type="InvalidWorkflowInput",
                non_retryable=True,
            )
        ids.append(value)
    return ids[0], ids[1]


@workflow.defn(name=WORKFLOW_TYPE)
class ProcessBatchMemoryFromRequestWorkflow:
    @workflow.run
    async def run(self, request_ref: Any) -> Any:
        request_id, batch_id = _reference(request_ref)
        try:
            # The activity is called by name: it is implemented in C++.
            result = await workflow.execute_activity(
                ACTIVITY_TYPE,
                args=[request_id, batch_id],
                start_to_close_timeout=START_TO_CLOSE_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RETRY_POLICY,
                # A cancel of the workflow reaches the worker on its next
                # heartbeat; the run ends once the worker has reported.
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except (ActivityError, asyncio.CancelledError) as e:
            canceled = is_cancelled_exception(e)
            settled = None
            try:
                if canceled:
                    settled = await self._settle(request_id, batch_id, "canceled", "the batch was canceled")
                else:
                    settled = await self._settle(request_id, batch_id, "failed", _reason(e))
            except ActivityError as settle_error:
                # The run ends as the batch did, whatever became of the settling.
                workflow.logger.error("settling request %s failed: %s", request_id, _reason(settle_error))
            if _wants_webhook(settled):
                await self._notify(request_id, batch_id)
            raise e  # the run still ends failed or canceled
        if _wants_webhook(result):
            await self._notify(request_id, batch_id)
        return result

    async def _notify(self, request_id: str, batch_id: str) -> None:
        handle = workflow.start_activity(
            WEBHOOK_ACTIVITY_TYPE,
            args=[request_id, batch_id],
            start_to_close_timeout=WEBHOOK_START_TO_CLOSE_TIMEOUT,
            heartbeat_timeout=WEBHOOK_HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=WEBHOOK_SCHEDULE_TO_CLOSE_TIMEOUT,
            retry_policy=WEBHOOK_RETRY_POLICY,
        )
        # Like the settling: a cancel of the run does not stop the news of it.
        try:
            try:
                await asyncio.shield(handle)
            except asyncio.CancelledError:
                await handle
        except ActivityError as error:
            workflow.logger.error("the webhook of request %s was not delivered: %s", request_id, _reason(error))

    async def _settle(self, request_id: str, batch_id: str, status: str, reason: str) -> Any:
        handle = workflow.start_activity(
            SETTLE_ACTIVITY_TYPE,
            args=[request_id, batch_id, status, reason],
            start_to_close_timeout=SETTLE_START_TO_CLOSE_TIMEOUT,
            schedule_to_close_timeout=SETTLE_SCHEDULE_TO_CLOSE_TIMEOUT,
            retry_policy=SETTLE_RETRY_POLICY,
        )
        # A cancel of the run while it settles a failure must not cancel the
        # settling itself: that is what keeps the request from staying open.
        try:
            return await asyncio.shield(handle)
        except asyncio.CancelledError:
            return await handle


def _wants_webhook(result: Any) -> bool:
    return isinstance(result, dict) and result.get("webhook") is True


def _reason(error: BaseException) -> str:
    """The innermost cause: what the worker, or the server, said."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"the batch's activity failed for good: {getattr(error, 'message', None) or error}"
