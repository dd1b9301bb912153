// In-memory server state of the Temporal emulator: namespaces, workflow runs
// with their event histories, activity task queues, and the embedded workflow
// definition (the workflow side of ProcessBatchMemoryFromRequestWorkflow).
//
// Everything here works on the internal message form of proto.mjs (plain
// objects keyed by lowerCamel names, Buffers for bytes, {seconds, nanos} for
// durations, Date for timestamps); routes-api.mjs encodes the answers.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  RpcError,
  Code,
  anyOf,
  jsonPayloads,
  payloadValue,
  payloadsSize,
} from './proto.mjs';

// --- the embedded workflow definition -----------------------------------------
// What the project's worker runs (Python, from the design seed):
//   request_id = request_ref["request_id"]; batch_id = request_ref["batch_id"]
//   result = await workflow.execute_activity(fetch_and_process_batch_memories,
//       args=[request_id, batch_id], start_to_close_timeout=timedelta(hours=1),
//       retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=2s,
//                                backoff_coefficient=2.0, maximum_interval=5min))
//   return result
export const EMBEDDED_WORKFLOW_TYPE = 'ProcessBatchMemoryFromRequestWorkflow';
export const ACTIVITY_TYPE = 'fetch_and_process_batch_memories';
export const ACTIVITY_ID = '1';
const START_TO_CLOSE_MS = 3600 * 1000;
const RETRY = { initialMs: 2000, coefficient: 2.0, maximumMs: 5 * 60 * 1000, maximumAttempts: 3 };
/** Identity recorded for the emulated workflow worker's workflow tasks. */
export const WORKFLOW_WORKER_IDENTITY = 'temporal-emulator-workflow-worker';

// --- limits of a real server (1.24+) ----------------------------------------------
export const MAX_ID_LENGTH = 1000;
export const BLOB_SIZE_LIMIT = 2 * 1024 * 1024;

const RUNNING = 'WORKFLOW_EXECUTION_STATUS_RUNNING';
const FAILED_STATUSES = new Set([
  'WORKFLOW_EXECUTION_STATUS_FAILED',
  'WORKFLOW_EXECUTION_STATUS_CANCELED',
  'WORKFLOW_EXECUTION_STATUS_TERMINATED',
  'WORKFLOW_EXECUTION_STATUS_TIMED_OUT',
]);
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function dur(ms) {
  const seconds = Math.trunc(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function durMs(d) {
  if (!d) return 0;
  return Number(d.seconds || 0) * 1000 + Number(d.nanos || 0) / 1e6;
}

function taskQueueMsg(name) {
  return { name, kind: 'TASK_QUEUE_KIND_NORMAL' };
}

const activityRetryPolicy = () => ({
  initialInterval: dur(RETRY.initialMs),
  backoffCoefficient: RETRY.coefficient,
  maximumInterval: dur(RETRY.maximumMs),
  maximumAttempts: RETRY.maximumAttempts,
});

// --- errors a real server answers ------------------------------------------------------
export const errors = {
  invalid: (msg) => new RpcError(Code.INVALID_ARGUMENT, msg),
  namespaceNotFound: (ns) =>
    new RpcError(Code.NOT_FOUND, `Namespace ${ns} is not found.`, [
      anyOf('temporal.api.errordetails.v1.NamespaceNotFoundFailure', { namespace: ns }),
    ]),
  notFound: (msg) =>
    new RpcError(Code.NOT_FOUND, msg, [anyOf('temporal.api.errordetails.v1.NotFoundFailure', {})]),
  workflowCompleted: () => errors.notFound('workflow execution already completed'),
  activityNotFound: () =>
    errors.notFound('invalid activityID or activity already timed out or invoking workflow is completed'),
  alreadyStarted: (msg, startRequestId, runId) =>
    new RpcError(Code.ALREADY_EXISTS, msg, [
      anyOf('temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure', { startRequestId, runId }),
    ]),
};

export class EmulatorState extends EventEmitter {
  /**
   * @param {object} opts
   * @param {string[]} [opts.namespaces] namespaces that exist ("default" always)
   * @param {number} [opts.retryScale] multiplies activity retry backoffs and
   *   the start-to-close timeout (tests use e.g. 0.01)
   * @param {number} [opts.historyWaitMs] long-poll time of GetWorkflowExecutionHistory
   * @param {number} [opts.pollTimeoutMs] long-poll time of the activity task poll
   * @param {number} [opts.idReuseIntervalMs] minimal time between two starts of one
   *   workflow id (servers 1.25+: 1000 ms; 0 = off)
   */
  constructor(opts = {}) {
    super();
    this.retryScale = opts.retryScale ?? 1;
    this.historyWaitMs = opts.historyWaitMs ?? 20000;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 10000;
    this.idReuseIntervalMs = opts.idReuseIntervalMs ?? 0;
    this.namespaces = new Map();
    for (const name of new Set(['default', ...(opts.namespaces || [])])) {
      this.namespaces.set(name, { name, id: randomUUID(), workflows: new Map(), runs: new Map() });
    }
    this.queues = new Map();
    this.timers = new Set();
    this.taskIdCounter = 1048576;
    this.closed = false;
  }

  // --- infrastructure ---------------------------------------------------------------

  setTimer(fn, ms) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, Math.max(0, ms));
    this.timers.add(t);
    return t;
  }

  clearTimer(t) {
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
  }

  /** Stop timers and answer every long poll (used on shutdown). */
  close() {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.emit('shutdown');
  }

  namespace(name) {
    const ns = this.namespaces.get(name);
    if (!ns) throw errors.namespaceNotFound(name);
    return ns;
  }

  /** Find a run: by runId when given, else the latest run of the workflow id. */
  findRun(nsName, workflowId, runId) {
    const ns = this.namespace(nsName);
    if (!workflowId) throw errors.invalid('WorkflowId is not set on request.');
    if (runId) {
      if (!UUID_RE.test(runId)) throw errors.invalid('Invalid RunId.');
      const run = ns.runs.get(runId);
      if (!run || run.workflowId !== workflowId) {
        throw errors.notFound(`workflow execution not found for workflow ID "${workflowId}" and run ID "${runId}"`);
      }
      return run;
    }
    const runs = ns.workflows.get(workflowId);
    if (!runs || runs.length === 0) throw errors.notFound(`workflow not found for ID: ${workflowId}`);
    return runs[runs.length - 1];
  }

  isOpen(run) {
    return run.status === RUNNING;
  }

  // --- history ---------------------------------------------------------------------------

  addEvent(run, eventType, attrsField, attrs) {
    const ev = {
      eventId: run.events.length + 1,
      eventTime: new Date(),
      eventType,
      taskId: this.taskIdCounter++,
      [attrsField]: attrs,
    };
    run.events.push(ev);
    return ev.eventId;
  }

  /** Announce a change of a run (history long polls, tests). */
  touch(run) {
    run.stateTransitionCount++;
    for (const w of [...run.waiters]) w();
    this.emit('run-changed', run);
  }

  /** A workflow task that the emulated workflow worker handles at once. */
  runWorkflowTask(run) {
    const scheduledEventId = this.addEvent(run, 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'workflowTaskScheduledEventAttributes', {
      taskQueue: taskQueueMsg(run.taskQueue),
      startToCloseTimeout: run.workflowTaskTimeout,
      attempt: 1,
    });
    return this.completeScheduledWorkflowTask(run, scheduledEventId);
  }

  completeScheduledWorkflowTask(run, scheduledEventId) {
    const startedEventId = this.addEvent(run, 'EVENT_TYPE_WORKFLOW_TASK_STARTED', 'workflowTaskStartedEventAttributes', {
      scheduledEventId,
      identity: WORKFLOW_WORKER_IDENTITY,
      requestId: randomUUID(),
      historySizeBytes: 1024 * run.events.length,
    });
    return this.addEvent(run, 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED', 'workflowTaskCompletedEventAttributes', {
      scheduledEventId,
      startedEventId,
      identity: WORKFLOW_WORKER_IDENTITY,
    });
  }

  closeRun(run, status) {
    run.status = status;
    run.closeTime = new Date();
    this.clearTimer(run.runTimer);
    run.pendingWorkflowTask = null;
    if (run.activity) this.dropActivity(run);
    this.touch(run);
    this.emit('run-closed', run);
  }

  // --- start -----------------------------------------------------------------------------

  /** StartWorkflowExecution. Returns the internal StartWorkflowExecutionResponse. */
  startWorkflow(nsName, req) {
    const ns = this.namespace(nsName);
    const workflowId = req.workflowId || '';
    if (!workflowId) throw errors.invalid('WorkflowId is not set on request.');
    if (workflowId.length > MAX_ID_LENGTH) throw errors.invalid('WorkflowId length exceeds limit.');
    const typeName = req.workflowType && req.workflowType.name;
    if (!typeName) throw errors.invalid('WorkflowType is not set on request.');
    if (typeName.length > MAX_ID_LENGTH) throw errors.invalid('WorkflowType length exceeds limit.');
    const queue = req.taskQueue && req.taskQueue.name;
    if (!queue) throw errors.invalid('TaskQueue is not set on request.');
    if (queue.length > MAX_ID_LENGTH) throw errors.invalid('TaskQueue length exceeds limit.');
    if ((req.requestId || '').length > MAX_ID_LENGTH) throw errors.invalid('RequestId length exceeds limit.');
    if ((req.identity || '').length > MAX_ID_LENGTH) throw errors.invalid('Identity length exceeds limit.');
    if (durMs(req.workflowExecutionTimeout) < 0) throw errors.invalid('An invalid WorkflowExecutionTimeoutSeconds is set on request.');
    if (durMs(req.workflowRunTimeout) < 0) throw errors.invalid('An invalid WorkflowRunTimeoutSeconds is set on request.');
    if (durMs(req.workflowTaskTimeout) < 0) throw errors.invalid('An invalid WorkflowTaskTimeoutSeconds is set on request.');
    if (payloadsSize(req.input) > BLOB_SIZE_LIMIT) throw errors.invalid('Blob data size exceeds limit.');

    let reuse = req.workflowIdReusePolicy || 'WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED';
    let conflict = req.workflowIdConflictPolicy || 'WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED';
    if (reuse === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING' && conflict !== 'WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED') {
      throw errors.invalid('Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a WorkflowIDConflictPolicy');
    }
    if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE' && conflict === 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING') {
      throw errors.invalid('Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be used together with WorkflowIdConflictPolicy WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING');
    }
    if (reuse === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING') {
      reuse = 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE';
      conflict = 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING';
    }
    if (reuse === 'WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED') reuse = 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE';
    if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED') conflict = 'WORKFLOW_ID_CONFLICT_POLICY_FAIL';

    // An empty request id is replaced by the server's own (so it never dedups).
    const requestId = req.requestId || randomUUID();
    const runs = ns.workflows.get(workflowId) || [];
    const current = runs[runs.length - 1];
    if (current) {
      if (current.requestIds.has(requestId)) {
        // A retried start: same answer as the first time.
        return { runId: current.runId, started: true, status: current.status, link: startedLink(nsName, current) };
      }
      if (this.isOpen(current)) {
        if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING') {
          if (req.onConflictOptions && req.onConflictOptions.attachRequestId) current.requestIds.add(requestId);
          return { runId: current.runId, started: false, status: RUNNING, link: startedLink(nsName, current) };
        }
        if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING') {
          this.terminateRun(current, { reason: 'terminated by new runID', identity: 'history-service' });
        } else {
          throw errors.alreadyStarted(
            `Workflow execution is already running. WorkflowId: ${workflowId}, RunId: ${current.runId}.`,
            current.startRequestId,
            current.runId,
          );
        }
      } else {
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE') {
          throw errors.alreadyStarted(
            `Workflow execution already finished. WorkflowId: ${workflowId}, RunId: ${current.runId}. Workflow Id reuse policy: reject duplicate workflow Id.`,
            current.startRequestId,
            current.runId,
          );
        }
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' && !FAILED_STATUSES.has(current.status)) {
          throw errors.alreadyStarted(
            `Workflow execution already finished successfully. WorkflowId: ${workflowId}, RunId: ${current.runId}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed.`,
            current.startRequestId,
            current.runId,
          );
        }
      }
      const since = Date.now() - current.startTime.getTime();
      if (this.idReuseIntervalMs > 0 && since < this.idReuseIntervalMs) {
        throw new RpcError(Code.RESOURCE_EXHAUSTED, `Too many starts for workflow ${workflowId}. Time since last start: ${since} ms`, [
          anyOf('temporal.api.errordetails.v1.ResourceExhaustedFailure', {
            cause: 'RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW',
            scope: 'RESOURCE_EXHAUSTED_SCOPE_NAMESPACE',
          }),
        ]);
      }
    }

    const run = this.createRun(ns, req, requestId);
    return { runId: run.runId, started: true, status: RUNNING, link: startedLink(nsName, run) };
  }

  createRun(ns, req, requestId) {
    const now = new Date();
    const runId = randomUUID();
    const run = {
      ns: ns.name,
      workflowId: req.workflowId,
      runId,
      workflowType: req.workflowType.name,
      taskQueue: req.taskQueue.name,
      input: req.input,
      identity: req.identity || '',
      startRequestId: requestId,
      requestIds: new Set([requestId]),
      startTime: now,
      closeTime: null,
      status: RUNNING,
      workflowExecutionTimeout: req.workflowExecutionTimeout || dur(0),
      workflowRunTimeout: req.workflowRunTimeout || req.workflowExecutionTimeout || dur(0),
      workflowTaskTimeout: req.workflowTaskTimeout && durMs(req.workflowTaskTimeout) > 0 ? req.workflowTaskTimeout : dur(10000),
      memo: req.memo,
      searchAttributes: req.searchAttributes,
      header: req.header,
      retryPolicy: req.retryPolicy,
      events: [],
      stateTransitionCount: 0,
      cancelRequested: false,
      activity: null,
      pendingWorkflowTask: null,
      waiters: new Set(),
      runTimer: null,
    };
    ns.runs.set(runId, run);
    if (!ns.workflows.has(run.workflowId)) ns.workflows.set(run.workflowId, []);
    ns.workflows.get(run.workflowId).push(run);

    const execTimeoutMs = durMs(run.workflowExecutionTimeout);
    const runTimeoutMs = durMs(run.workflowRunTimeout);
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED', 'workflowExecutionStartedEventAttributes', {
      workflowType: { name: run.workflowType },
      taskQueue: taskQueueMsg(run.taskQueue),
      input: run.input,
      workflowExecutionTimeout: run.workflowExecutionTimeout,
      workflowRunTimeout: run.workflowRunTimeout,
      workflowTaskTimeout: run.workflowTaskTimeout,
      originalExecutionRunId: runId,
      identity: run.identity,
      firstExecutionRunId: runId,
      retryPolicy: run.retryPolicy,
      attempt: 1,
      workflowExecutionExpirationTime: execTimeoutMs > 0 ? new Date(now.getTime() + execTimeoutMs) : undefined,
      memo: run.memo,
      searchAttributes: run.searchAttributes,
      header: run.header || {},
      workflowId: run.workflowId,
    });
    const timeoutMs = [execTimeoutMs, runTimeoutMs].filter((x) => x > 0);
    if (timeoutMs.length) run.runTimer = this.setTimer(() => this.timeOutRun(run), Math.min(...timeoutMs));

    const scheduledEventId = this.addEvent(run, 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'workflowTaskScheduledEventAttributes', {
      taskQueue: taskQueueMsg(run.taskQueue),
      startToCloseTimeout: run.workflowTaskTimeout,
      attempt: 1,
    });
    if (run.workflowType === EMBEDDED_WORKFLOW_TYPE) {
      const wtCompleted = this.completeScheduledWorkflowTask(run, scheduledEventId);
      this.embeddedWorkflowStart(run, wtCompleted);
    } else {
      // No workflow code for this type here: the first workflow task stays
      // pending, as on a real server with no worker for the type.
      run.pendingWorkflowTask = { scheduledEventId, scheduledTime: now, attempt: 1 };
    }
    this.touch(run);
    this.emit('run-started', run);
    return run;
  }

  /** The embedded workflow's first workflow task: validate input, schedule the activity. */
  embeddedWorkflowStart(run, wtCompletedEventId) {
    let requestId;
    let batchId;
    try {
      const payloads = (run.input && run.input.payloads) || [];
      if (payloads.length !== 1) throw new Error(`expected 1 argument, got ${payloads.length}`);
      const ref = payloadValue(payloads[0]);
      if (!ref || typeof ref !== 'object' || Array.isArray(ref)) throw new Error('request_ref must be an object');
      requestId = ref.request_id;
      batchId = ref.batch_id;
      if (typeof requestId !== 'string' || requestId === '') throw new Error('request_id must be a non-empty string');
      if (typeof batchId !== 'string' || batchId === '') throw new Error('batch_id must be a non-empty string');
    } catch (e) {
      this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED', 'workflowExecutionFailedEventAttributes', {
        failure: {
          message: `invalid workflow input: ${e.message}`,
          source: 'TemporalEmulator',
          applicationFailureInfo: { type: 'InvalidWorkflowInput', nonRetryable: true },
        },
        retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
        workflowTaskCompletedEventId: wtCompletedEventId,
      });
      this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_FAILED');
      return;
    }
    const input = jsonPayloads(requestId, batchId);
    const scheduledEventId = this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', 'activityTaskScheduledEventAttributes', {
      activityId: ACTIVITY_ID,
      activityType: { name: ACTIVITY_TYPE },
      taskQueue: taskQueueMsg(run.taskQueue),
      header: {},
      input,
      scheduleToCloseTimeout: dur(0),
      scheduleToStartTimeout: dur(0),
      startToCloseTimeout: dur(START_TO_CLOSE_MS),
      heartbeatTimeout: dur(0),
      workflowTaskCompletedEventId: wtCompletedEventId,
      retryPolicy: activityRetryPolicy(),
    });
    const now = new Date();
    run.activity = {
      activityId: ACTIVITY_ID,
      activityType: ACTIVITY_TYPE,
      input,
      taskQueue: run.taskQueue,
      scheduledEventId,
      scheduledTime: now,
      currentAttemptScheduledTime: now,
      attempt: 1,
      maximumAttempts: RETRY.maximumAttempts,
      state: 'scheduled', // scheduled | started | backoff
      cancelRequested: false,
      cancelRequestedEventId: 0,
      startedTime: null,
      startedIdentity: '',
      startedRequestId: '',
      lastHeartbeatTime: null,
      heartbeatDetails: undefined,
      lastFailure: undefined,
      prevAttemptFailure: undefined,
      lastWorkerIdentity: '',
      lastAttemptCompleteTime: null,
      nextAttemptScheduleTime: null,
      currentRetryInterval: null,
      timer: null,
      queued: false,
    };
    this.enqueue(run, run.activity);
  }

  timeOutRun(run) {
    if (!this.isOpen(run)) return;
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT', 'workflowExecutionTimedOutEventAttributes', {
      retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
    });
    this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_TIMED_OUT');
  }

  // --- activity task queues ------------------------------------------------------

  queue(nsName, name) {
    const key = `${nsName}\u0000${name}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { ns: nsName, name, tasks: [], pollers: [] };
      this.queues.set(key, q);
    }
    return q;
  }

  enqueue(run, act) {
    const q = this.queue(run.ns, act.taskQueue);
    act.queued = true;
    q.tasks.push({ run, act, attempt: act.attempt });
    this.emit('task-queued', { run, act });
    this.dispatch(q);
  }

  unqueue(act, run) {
    if (!act.queued) return;
    const q = this.queue(run.ns, act.taskQueue);
    q.tasks = q.tasks.filter((t) => t.act !== act);
    act.queued = false;
  }

  dropActivity(run) {
    const act = run.activity;
    if (!act) return;
    this.unqueue(act, run);
    this.clearTimer(act.timer);
    run.activity = null;
  }

  /** Hand queued tasks to waiting pollers, FIFO, only to pollers still connected. */
  dispatch(q) {
    while (q.tasks.length && q.pollers.length) {
      const poller = q.pollers.shift();
      if (!poller.isAlive()) {
        this.emit('poller-removed', poller);
        continue;
      }
      const task = q.tasks.shift();
      task.act.queued = false;
      const resp = this.startActivityTask(task.run, task.act, poller.identity);
      poller.deliver(resp);
    }
  }

  /**
   * Register a poller. `poller` = {identity, isAlive(), deliver(resp)}; returns
   * a function that removes it (on timeout or disconnect).
   */
  addPoller(nsName, queueName, poller) {
    const q = this.queue(nsName, queueName);
    q.pollers.push(poller);
    this.emit('poller-added', poller);
    this.dispatch(q);
    return () => {
      const idx = q.pollers.indexOf(poller);
      if (idx >= 0) {
        q.pollers.splice(idx, 1);
        this.emit('poller-removed', poller);
      }
    };
  }

  pollerCount(nsName, queueName) {
    return this.queue(nsName, queueName).pollers.length;
  }

  taskToken(run, act) {
    return Buffer.from(
      JSON.stringify({ v: 1, ns: run.ns, wid: run.workflowId, rid: run.runId, aid: act.activityId, sid: act.scheduledEventId, att: act.attempt }),
    );
  }

  /** Mark the attempt started and build the PollActivityTaskQueueResponse. */
  startActivityTask(run, act, identity) {
    const now = new Date();
    act.state = 'started';
    act.startedTime = now;
    act.startedIdentity = identity || '';
    act.lastWorkerIdentity = identity || '';
    act.startedRequestId = randomUUID();
    act.nextAttemptScheduleTime = null;
    this.clearTimer(act.timer);
    act.timer = this.setTimer(() => this.activityTimedOut(run, act, act.attempt), START_TO_CLOSE_MS * this.retryScale);
    this.touch(run);
    return {
      taskToken: this.taskToken(run, act),
      workflowNamespace: run.ns,
      workflowType: { name: run.workflowType },
      workflowExecution: { workflowId: run.workflowId, runId: run.runId },
      activityType: { name: act.activityType },
      activityId: act.activityId,
      header: {},
      input: act.input,
      heartbeatDetails: act.heartbeatDetails,
      scheduledTime: act.scheduledTime,
      currentAttemptScheduledTime: act.currentAttemptScheduledTime,
      startedTime: now,
      attempt: act.attempt,
      scheduleToCloseTimeout: dur(0),
      startToCloseTimeout: dur(START_TO_CLOSE_MS),
      heartbeatTimeout: dur(0),
      retryPolicy: activityRetryPolicy(),
    };
  }

  // --- activity results ----------------------------------------------------------------

  /** Resolve a task token to its run and started activity (or throw like a server). */
  resolveToken(nsName, token) {
    this.namespace(nsName);
    if (!token || token.length === 0) throw errors.invalid('Invalid TaskToken.');
    let t;
    try {
      t = JSON.parse(Buffer.from(token).toString('utf8'));
    } catch {
      throw errors.invalid('Error deserializing task token.');
    }
    if (!t || t.v !== 1 || typeof t.rid !== 'string') throw errors.invalid('Error deserializing task token.');
    const ns = this.namespace(t.ns);
    const run = ns.runs.get(t.rid);
    if (!run || run.workflowId !== t.wid) {
      throw errors.notFound(`workflow execution not found for workflow ID "${t.wid}" and run ID "${t.rid}"`);
    }
    if (!this.isOpen(run)) throw errors.workflowCompleted();
    const act = run.activity;
    if (!act || act.activityId !== t.aid || act.scheduledEventId !== t.sid || act.attempt !== t.att || act.state !== 'started') {
      throw errors.activityNotFound();
    }
    return { run, act };
  }

  /** The same for the by-id routes: latest run unless runId is given. */
  resolveById(nsName, workflowId, runId, activityId) {
    if (!activityId) throw errors.invalid('ActivityId is not set on request.');
    const run = this.findRun(nsName, workflowId, runId);
    if (!this.isOpen(run)) throw errors.workflowCompleted();
    const act = run.activity;
    if (!act || act.activityId !== activityId || act.state !== 'started') throw errors.activityNotFound();
    return { run, act };
  }

  heartbeat({ run, act }, details, identity) {
    act.lastHeartbeatTime = new Date();
    if (details) act.heartbeatDetails = details;
    if (identity) act.lastWorkerIdentity = identity;
    this.touch(run);
    return act.cancelRequested ? { cancelRequested: true } : {};
  }

  /** Write the (deferred) ActivityTaskStarted event of the closing attempt. */
  writeActivityStarted(run, act) {
    return this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_STARTED', 'activityTaskStartedEventAttributes', {
      scheduledEventId: act.scheduledEventId,
      identity: act.startedIdentity,
      requestId: act.startedRequestId,
      attempt: act.attempt,
      lastFailure: act.prevAttemptFailure,
    });
  }

  completeActivity({ run, act }, result, identity) {
    if (payloadsSize(result) > BLOB_SIZE_LIMIT) {
      // What a real frontend does: the activity fails, non-retryable.
      this.failActivity({ run, act }, {
        message: 'Complete result exceeds size limit.',
        source: 'Server',
        serverFailureInfo: { nonRetryable: true },
      }, identity);
      return {};
    }
    const startedEventId = this.writeActivityStarted(run, act);
    this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED', 'activityTaskCompletedEventAttributes', {
      result,
      scheduledEventId: act.scheduledEventId,
      startedEventId,
      identity: identity || act.lastWorkerIdentity,
    });
    this.dropActivity(run);
    // Workflow code: `return result`.
    const wtc = this.runWorkflowTask(run);
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED', 'workflowExecutionCompletedEventAttributes', {
      result,
      workflowTaskCompletedEventId: wtc,
    });
    this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    return {};
  }

  failActivity({ run, act }, failure, identity, lastHeartbeatDetails) {
    if (lastHeartbeatDetails) act.heartbeatDetails = lastHeartbeatDetails;
    if (identity) act.lastWorkerIdentity = identity;
    this.attemptFailed(run, act, failure || { message: '' }, false);
    return {};
  }

  activityTimedOut(run, act, attempt) {
    if (!this.isOpen(run) || run.activity !== act || act.attempt !== attempt || act.state !== 'started') return;
    this.attemptFailed(run, act, {
      message: 'activity StartToClose timeout',
      source: 'Server',
      timeoutFailureInfo: { timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE', lastHeartbeatDetails: act.heartbeatDetails },
    }, true);
  }

  attemptFailed(run, act, failure, isTimeout) {
    const now = new Date();
    this.clearTimer(act.timer);
    act.timer = null;
    act.lastAttemptCompleteTime = now;
    const app = failure.applicationFailureInfo;
    const nonRetryable = !!((app && app.nonRetryable) || (failure.serverFailureInfo && failure.serverFailureInfo.nonRetryable));
    let retryState;
    if (act.cancelRequested) retryState = 'RETRY_STATE_CANCEL_REQUESTED';
    else if (nonRetryable) retryState = 'RETRY_STATE_NON_RETRYABLE_FAILURE';
    else if (act.attempt >= act.maximumAttempts) retryState = 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED';
    else retryState = 'RETRY_STATE_IN_PROGRESS';

    if (retryState === 'RETRY_STATE_IN_PROGRESS') {
      // Retry: no history event; the pending activity shows the backoff.
      const explicit = app && app.nextRetryDelay ? durMs(app.nextRetryDelay) : null;
      const backoff = explicit ?? Math.min(RETRY.initialMs * RETRY.coefficient ** (act.attempt - 1), RETRY.maximumMs);
      act.lastFailure = failure;
      act.prevAttemptFailure = failure;
      act.attempt += 1;
      act.state = 'backoff';
      act.startedTime = null;
      act.currentRetryInterval = dur(backoff);
      act.nextAttemptScheduleTime = new Date(now.getTime() + backoff);
      act.timer = this.setTimer(() => {
        act.timer = null;
        if (!this.isOpen(run) || run.activity !== act || act.state !== 'backoff') return;
        act.state = 'scheduled';
        act.currentAttemptScheduledTime = new Date();
        act.nextAttemptScheduleTime = null;
        this.enqueue(run, act);
        this.touch(run);
      }, backoff * this.retryScale);
      this.touch(run);
      this.emit('activity-retry', { run, act, failure });
      return;
    }

    const startedEventId = this.writeActivityStarted(run, act);
    if (isTimeout) {
      this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT', 'activityTaskTimedOutEventAttributes', {
        failure,
        scheduledEventId: act.scheduledEventId,
        startedEventId,
        retryState,
      });
    } else {
      this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_FAILED', 'activityTaskFailedEventAttributes', {
        failure,
        scheduledEventId: act.scheduledEventId,
        startedEventId,
        identity: act.lastWorkerIdentity,
        retryState,
      });
    }
    this.dropActivity(run);
    // Workflow code: the ActivityError propagates and fails the workflow.
    const wtc = this.runWorkflowTask(run);
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED', 'workflowExecutionFailedEventAttributes', {
      failure: {
        message: 'Activity task failed',
        cause: failure,
        activityFailureInfo: {
          scheduledEventId: act.scheduledEventId,
          startedEventId,
          identity: act.lastWorkerIdentity,
          activityType: { name: act.activityType },
          activityId: act.activityId,
          retryState,
        },
      },
      retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
      workflowTaskCompletedEventId: wtc,
    });
    this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_FAILED');
  }

  cancelActivityResolved({ run, act }, details, identity) {
    if (!act.cancelRequested) {
      throw errors.invalid('unable to mark activity as canceled without activity being request canceled first');
    }
    const startedEventId = this.writeActivityStarted(run, act);
    this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_CANCELED', 'activityTaskCanceledEventAttributes', {
      details,
      latestCancelRequestedEventId: act.cancelRequestedEventId,
      scheduledEventId: act.scheduledEventId,
      startedEventId,
      identity: identity || act.lastWorkerIdentity,
    });
    this.dropActivity(run);
    this.finishCanceled(run);
    return {};
  }

  /** Workflow code after its activity was canceled: CancelledError -> canceled. */
  finishCanceled(run) {
    const wtc = this.runWorkflowTask(run);
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED', 'workflowExecutionCanceledEventAttributes', {
      workflowTaskCompletedEventId: wtc,
    });
    this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_CANCELED');
  }

  // --- cancel / terminate / signal ---------------------------------------------------

  requestCancel(nsName, req) {
    const exec = req.workflowExecution || {};
    const run = this.findRun(nsName, exec.workflowId, exec.runId);
    // A real server answers success when the run is already closed or
    // cancellation was already requested.
    if (!this.isOpen(run) || run.cancelRequested) return {};
    run.cancelRequested = true;
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED', 'workflowExecutionCancelRequestedEventAttributes', {
      cause: req.reason || '',
      identity: req.identity || '',
    });
    if (run.workflowType !== EMBEDDED_WORKFLOW_TYPE) {
      this.touch(run);
      return {};
    }
    const wtc = this.runWorkflowTask(run);
    const act = run.activity;
    if (!act) {
      this.finishCanceled(run);
      return {};
    }
    const cancelEventId = this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED', 'activityTaskCancelRequestedEventAttributes', {
      scheduledEventId: act.scheduledEventId,
      workflowTaskCompletedEventId: wtc,
    });
    act.cancelRequestedEventId = cancelEventId;
    if (act.state === 'started') {
      // The worker learns it from its next heartbeat (cancelRequested: true).
      act.cancelRequested = true;
      this.touch(run);
      return {};
    }
    // Not handed to a worker (queued or in retry backoff): canceled at once.
    this.addEvent(run, 'EVENT_TYPE_ACTIVITY_TASK_CANCELED', 'activityTaskCanceledEventAttributes', {
      latestCancelRequestedEventId: cancelEventId,
      scheduledEventId: act.scheduledEventId,
    });
    this.dropActivity(run);
    this.finishCanceled(run);
    return {};
  }

  terminateRun(run, { reason, details, identity }) {
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED', 'workflowExecutionTerminatedEventAttributes', {
      reason: reason || '',
      details,
      identity: identity || '',
    });
    this.closeRun(run, 'WORKFLOW_EXECUTION_STATUS_TERMINATED');
  }

  terminate(nsName, req) {
    const exec = req.workflowExecution || {};
    const run = this.findRun(nsName, exec.workflowId, exec.runId);
    if (!this.isOpen(run)) throw errors.workflowCompleted();
    this.terminateRun(run, req);
    return {};
  }

  signal(nsName, req) {
    if (!req.signalName) throw errors.invalid('SignalName is not set on request.');
    if (req.signalName.length > MAX_ID_LENGTH) throw errors.invalid('SignalName length exceeds limit.');
    if (payloadsSize(req.input) > BLOB_SIZE_LIMIT) throw errors.invalid('Blob data size exceeds limit.');
    const exec = req.workflowExecution || {};
    const run = this.findRun(nsName, exec.workflowId, exec.runId);
    if (!this.isOpen(run)) throw errors.workflowCompleted();
    this.addEvent(run, 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED', 'workflowExecutionSignaledEventAttributes', {
      signalName: req.signalName,
      input: req.input,
      identity: req.identity || '',
      header: req.header,
      requestId: req.requestId || '',
    });
    // The embedded workflow has no signal handler: its workflow task just completes.
    if (run.workflowType === EMBEDDED_WORKFLOW_TYPE) this.runWorkflowTask(run);
    this.touch(run);
    return {};
  }

  // --- queries -----------------------------------------------------------------------------

  executionInfo(run) {
    const info = {
      execution: { workflowId: run.workflowId, runId: run.runId },
      type: { name: run.workflowType },
      startTime: run.startTime,
      closeTime: run.closeTime || undefined,
      status: run.status,
      historyLength: run.events.length,
      executionTime: run.startTime,
      memo: run.memo,
      searchAttributes: run.searchAttributes,
      taskQueue: run.taskQueue,
      stateTransitionCount: run.stateTransitionCount,
      historySizeBytes: 1024 * run.events.length,
      rootExecution: { workflowId: run.workflowId, runId: run.runId },
      firstRunId: run.runId,
    };
    if (run.closeTime) info.executionDuration = dur(run.closeTime.getTime() - run.startTime.getTime());
    return info;
  }

  describe(nsName, req) {
    const exec = req.execution || {};
    const run = this.findRun(nsName, exec.workflowId, exec.runId);
    const resp = {
      executionConfig: {
        taskQueue: taskQueueMsg(run.taskQueue),
        workflowExecutionTimeout: run.workflowExecutionTimeout,
        workflowRunTimeout: run.workflowRunTimeout,
        defaultWorkflowTaskTimeout: run.workflowTaskTimeout,
      },
      workflowExecutionInfo: this.executionInfo(run),
    };
    const act = run.activity;
    if (act && this.isOpen(run)) {
      let state = 'PENDING_ACTIVITY_STATE_SCHEDULED';
      if (act.cancelRequested) state = 'PENDING_ACTIVITY_STATE_CANCEL_REQUESTED';
      else if (act.state === 'started') state = 'PENDING_ACTIVITY_STATE_STARTED';
      resp.pendingActivities = [
        {
          activityId: act.activityId,
          activityType: { name: act.activityType },
          state,
          heartbeatDetails: act.heartbeatDetails,
          lastHeartbeatTime: act.lastHeartbeatTime || undefined,
          lastStartedTime: act.startedTime || undefined,
          attempt: act.attempt,
          maximumAttempts: act.maximumAttempts,
          scheduledTime: act.state === 'backoff' ? act.nextAttemptScheduleTime : act.currentAttemptScheduledTime,
          lastFailure: act.lastFailure,
          lastWorkerIdentity: act.lastWorkerIdentity,
          currentRetryInterval: act.currentRetryInterval || undefined,
          lastAttemptCompleteTime: act.lastAttemptCompleteTime || undefined,
          nextAttemptScheduleTime: act.state === 'backoff' ? act.nextAttemptScheduleTime : undefined,
        },
      ];
    }
    if (run.pendingWorkflowTask && this.isOpen(run)) {
      resp.pendingWorkflowTask = {
        state: 'PENDING_WORKFLOW_TASK_STATE_SCHEDULED',
        scheduledTime: run.pendingWorkflowTask.scheduledTime,
        originalScheduledTime: run.pendingWorkflowTask.scheduledTime,
        attempt: run.pendingWorkflowTask.attempt,
      };
    }
    return resp;
  }

  /**
   * GetWorkflowExecutionHistory, with the long poll (waitNewEvent).
   * @param {AbortSignal} [signal] aborts the wait (client gone)
   */
  async history(nsName, req, signal) {
    const exec = req.execution || {};
    const run = this.findRun(nsName, exec.workflowId, exec.runId);
    const filter = req.historyEventFilterType || 'HISTORY_EVENT_FILTER_TYPE_UNSPECIFIED';
    const closeOnly = filter === 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT' || filter === 2;
    let next = 1;
    if (req.nextPageToken && req.nextPageToken.length) {
      try {
        const t = JSON.parse(Buffer.from(req.nextPageToken).toString('utf8'));
        if (t.rid !== run.runId || !Number.isInteger(t.next)) throw new Error('mismatch');
        next = t.next;
      } catch {
        throw errors.invalid('Invalid NextPageToken.');
      }
    }
    const token = (n) => Buffer.from(JSON.stringify({ rid: run.runId, next: n }));
    const pageSize = req.maximumPageSize > 0 ? req.maximumPageSize : 1000;

    const answer = () => {
      if (closeOnly) {
        if (!this.isOpen(run)) return { history: { events: [run.events[run.events.length - 1]] } };
        return { history: {}, nextPageToken: token(next) };
      }
      const events = run.events.slice(next - 1, next - 1 + pageSize);
      const after = next + events.length;
      const more = after <= run.events.length || this.isOpen(run);
      return { history: { events }, nextPageToken: more ? token(after) : undefined };
    };
    const ready = () => (closeOnly ? !this.isOpen(run) : run.events.length >= next);

    if (!req.waitNewEvent || ready() || !this.isOpen(run)) return answer();
    await new Promise((resolve) => {
      let timer = null;
      const done = () => {
        run.waiters.delete(onChange);
        this.clearTimer(timer);
        this.off('shutdown', done);
        if (signal) signal.removeEventListener('abort', done);
        resolve();
      };
      const onChange = () => {
        if (ready() || !this.isOpen(run)) done();
      };
      run.waiters.add(onChange);
      timer = this.setTimer(done, this.historyWaitMs);
      this.on('shutdown', done);
      if (signal) signal.addEventListener('abort', done, { once: true });
    });
    return answer();
  }

  list(nsName, req) {
    const ns = this.namespace(nsName);
    const match = parseListQuery(req.query || '');
    const all = [...ns.runs.values()].filter(match).sort((a, b) => b.startTime - a.startTime || (a.runId < b.runId ? -1 : 1));
    let offset = 0;
    if (req.nextPageToken && req.nextPageToken.length) {
      const o = Number(Buffer.from(req.nextPageToken).toString('utf8'));
      if (!Number.isInteger(o) || o < 0) throw errors.invalid('Invalid pagination token.');
      offset = o;
    }
    const pageSize = req.pageSize > 0 ? req.pageSize : 1000;
    const page = all.slice(offset, offset + pageSize);
    const more = offset + page.length < all.length;
    return {
      executions: page.map((r) => this.executionInfo(r)),
      nextPageToken: more ? Buffer.from(String(offset + page.length)) : undefined,
    };
  }
}

function startedLink(nsName, run) {
  return {
    workflowEvent: {
      namespace: nsName,
      workflowId: run.workflowId,
      runId: run.runId,
      eventRef: { eventId: 1, eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' },
    },
  };
}

// --- visibility query (a small subset of Temporal's SQL-like list filter) ---------

const STATUS_NAMES = {
  running: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
  completed: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
  failed: 'WORKFLOW_EXECUTION_STATUS_FAILED',
  canceled: 'WORKFLOW_EXECUTION_STATUS_CANCELED',
  terminated: 'WORKFLOW_EXECUTION_STATUS_TERMINATED',
  continuedasnew: 'WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW',
  timedout: 'WORKFLOW_EXECUTION_STATUS_TIMED_OUT',
};
const QUERY_FIELDS = {
  WorkflowId: (r) => r.workflowId,
  RunId: (r) => r.runId,
  WorkflowType: (r) => r.workflowType,
  TaskQueue: (r) => r.taskQueue,
  ExecutionStatus: (r) => r.status,
};

/**
 * Supported: empty, or `Field = 'value'` / `Field != 'value'` clauses joined
 * by AND, for WorkflowId, RunId, WorkflowType, TaskQueue, ExecutionStatus;
 * an optional trailing `ORDER BY StartTime DESC` is accepted (and is the order).
 */
export function parseListQuery(query) {
  const q = query.trim().replace(/\s+order\s+by\s+StartTime(\s+desc)?\s*$/i, '');
  if (q === '') return () => true;
  const clauses = q.split(/\s+and\s+/i);
  const preds = clauses.map((c) => {
    const m = /^\s*`?([A-Za-z]+)`?\s*(=|!=)\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*$/.exec(c);
    if (!m || !QUERY_FIELDS[m[1]]) {
      throw errors.invalid(`invalid query: unsupported expression ${JSON.stringify(c.trim())} (the emulator supports only Field = 'value' clauses joined by AND, for ${Object.keys(QUERY_FIELDS).join(', ')})`);
    }
    const [, field, op] = m;
    let value = (m[3] ?? m[4]).replace(/\\(.)/g, '$1');
    if (field === 'ExecutionStatus') {
      const full = STATUS_NAMES[value.toLowerCase()] || (Object.values(STATUS_NAMES).includes(value) ? value : null);
      if (!full) throw errors.invalid(`invalid query: invalid ExecutionStatus value ${JSON.stringify(value)}`);
      value = full;
    }
    const get = QUERY_FIELDS[field];
    return op === '=' ? (r) => get(r) === value : (r) => get(r) !== value;
  });
  return (r) => preds.every((p) => p(r));
}
