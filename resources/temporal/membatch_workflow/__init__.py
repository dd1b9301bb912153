"""The Temporal workflow of membatch and the worker that runs it.

The workflow is the seeds' ProcessBatchMemoryFromRequestWorkflow: it takes
only {request_id, batch_id} and runs one activity,
fetch_and_process_batch_memories, which the C++ worker (`membatch work`)
implements. Run a workflow worker with `python -m membatch_workflow`.
"""

from .workflow import (
    ACTIVITY_TYPE,
    HEARTBEAT_TIMEOUT,
    RETRY_POLICY,
    SETTLE_ACTIVITY_TYPE,
    START_TO_CLOSE_TIMEOUT,
    WORKFLOW_TYPE,
    ProcessBatchMemoryFromRequestWorkflow,
)

__all__ = [
    "ACTIVITY_TYPE",
    "HEARTBEAT_TIMEOUT",
    "RETRY_POLICY",
    "SETTLE_ACTIVITY_TYPE",
    "START_TO_CLOSE_TIMEOUT",
    "WORKFLOW_TYPE",
    "ProcessBatchMemoryFromRequestWorkflow",
]
