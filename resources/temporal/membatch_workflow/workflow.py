"""ProcessBatchMemoryFromRequestWorkflow, as seed 000 (Component 2) has it.

The batch itself lives in Parse; the workflow sees only the reference and
hands it to the activity. What the seeds lack is added here: a heartbeat
timeout, so a dead worker is noticed in seconds rather than after the hour
of start-to-close, and cancellation that waits for the activity to report.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

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
        # The activity is called by name: it is implemented in C++.
        return await workflow.execute_activity(
            ACTIVITY_TYPE,
            args=[request_id, batch_id],
            start_to_close_timeout=START_TO_CLOSE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY_POLICY,
            # A cancel of the workflow reaches the worker on its next
            # heartbeat; the run ends once the worker has reported.
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
