// Tests of the Temporal HTTP API emulator. Run: cd tests && node --test temporal-emulator/
// Most tests run the emulator in-process (createServer) so they can await its
// events instead of sleeping; one test runs the CLI as a child process.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WF_TYPE = 'ProcessBatchMemoryFromRequestWorkflow';
const JSON_PLAIN_B64 = Buffer.from('json/plain').toString('base64');

let uniq = 0;
const nextId = (p) => `${p}-${process.pid}-${++uniq}`;

function client(base) {
  async function call(method, urlPath, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(base + urlPath, init);
    const text = await res.text();
    let json = null;
    if (text) json = JSON.parse(text);
    return { status: res.status, body: json, text, headers: res.headers };
  }
  const api = {
    call,
    start(workflowId, extra = {}, ns = 'default') {
      return call('POST', `/api/v1/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}`, {
        workflowType: { name: WF_TYPE },
        taskQueue: { name: extra.queue || 'q-default' },
        input: [{ request_id: `req-of-${workflowId}`, batch_id: `batch-of-${workflowId}` }],
        requestId: extra.requestId || nextId('rid'),
        ...(extra.body || {}),
      });
    },
    describe(workflowId, runId) {
      const q = runId ? `?execution.runId=${runId}` : '';
      return call('GET', `/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}${q}`);
    },
    poll(queue, timeoutMs = 2000, identity = 'worker-1') {
      return call('POST', `/emulator/v1/namespaces/default/activity-tasks/poll?timeoutMs=${timeoutMs}`, {
        taskQueue: { name: queue },
        identity,
      });
    },
    heartbeat(taskToken, details) {
      return call('POST', '/api/v1/namespaces/default/activity-heartbeat', { taskToken, details, identity: 'worker-1' });
    },
    complete(taskToken, result) {
      return call('POST', '/api/v1/namespaces/default/activity-complete', { taskToken, result, identity: 'worker-1' });
    },
    fail(taskToken, message, { nonRetryable = false, type = 'RuntimeError' } = {}) {
      return call('POST', '/api/v1/namespaces/default/activity-fail', {
        taskToken,
        identity: 'worker-1',
        failure: { message, source: 'CppWorker', stackTrace: 'at x', applicationFailureInfo: { type, nonRetryable, details: [{ why: message }] } },
      });
    },
    cancel(workflowId, runId) {
      return call('POST', `/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}/cancel`, {
        workflowExecution: { runId },
        reason: 'test cancel',
        requestId: nextId('cancel'),
        identity: 'test',
      });
    },
    closeEvent(workflowId, runId, wait = true) {
      const q = new URLSearchParams({ historyEventFilterType: '2', waitNewEvent: String(wait) });
      if (runId) q.set('execution.runId', runId);
      return call('GET', `/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}/history?${q}`);
    },
    history(workflowId) {
      return call('GET', `/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}/history`);
    },
  };
  return api;
}

function assertRpcError(res, httpStatus, code, messageRe) {
  assert.equal(res.status, httpStatus, res.text);
  assert.equal(res.body.code, code, res.text);
  if (messageRe) assert.match(res.body.message, messageRe);
}

describe('temporal emulator (in-process)', () => {
  let emu;
  let api;
  let state;

  before(async () => {
    emu = createServer({ retryScale: 0.001, pollTimeoutMs: 5000, historyWaitMs: 5000, log: () => {} });
    const port = await emu.listen(0);
    state = emu.state;
    api = client(`http://127.0.0.1:${port}`);
  });
  after(async () => {
    await emu.close();
  });

  // --- validation ----------------------------------------------------------------

  test('unknown body field -> 400 code 3 temporalproto message with line:col', async () => {
    const res = await api.call('POST', '/api/v1/namespaces/default/workflows/v1', {
      workflowType: { name: WF_TYPE },
      bogus: 1,
    });
    assertRpcError(res, 400, 3, /^temporalproto: \(line 1:\d+\): unknown field "bogus"$/);
    assert.equal(res.body.details, undefined);
  });

  test('unknown nested field and a duplicate field (both spellings) are rejected', async () => {
    const nested = await api.call('POST', '/api/v1/namespaces/default/workflows/v2', '{\n  "taskQueue": {"name": "q", "nam": "x"}\n}');
    assertRpcError(nested, 400, 3, /^temporalproto: \(line 2:\d+\): unknown field "nam"$/);
    const dup = await api.call('POST', '/api/v1/namespaces/default/workflows/v2', '{"requestId":"a","request_id":"b"}');
    assertRpcError(dup, 400, 3, /^temporalproto: \(line 1:\d+\): duplicate field "request_id"$/);
  });

  test('wrong enum value, wrong type and unparseable JSON -> 400 code 3', async () => {
    const en = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', { workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY_NOPE' });
    assertRpcError(en, 400, 3, /invalid value for enum type: "WORKFLOW_ID_REUSE_POLICY_NOPE"/);
    const ty = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', { workflowType: 'X' });
    assertRpcError(ty, 400, 3, /unexpected token "X"/);
    const st = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', { identity: 5 });
    assertRpcError(st, 400, 3, /invalid value for string type: 5/);
    const dur = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', { workflowRunTimeout: '10 seconds' });
    assertRpcError(dur, 400, 3, /invalid google.protobuf.Duration value "10 seconds"/);
    const bad = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', '{"workflowType": ');
    assertRpcError(bad, 400, 3, /unexpected EOF/);
    const bad2 = await api.call('POST', '/api/v1/namespaces/default/workflows/v3', '{workflowType: 1}');
    assertRpcError(bad2, 400, 3, /invalid character 'w' looking for beginning of object key string/);
  });

  test('proto names, int64 as number or string, enums by number and CamelCase are accepted', async () => {
    const id = nextId('names');
    const res = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}`, {
      workflow_type: { name: 'SomeOtherWorkflow' },
      task_queue: { name: 'q-names' },
      workflow_id_reuse_policy: 1,
      workflowIdConflictPolicy: 'Fail',
      workflow_run_timeout: '1.5s',
      request_id: nextId('r'),
    });
    assert.equal(res.status, 200, res.text);
    const d = await api.describe(id);
    assert.equal(d.body.executionConfig.workflowRunTimeout, '1.500s');
    const hist = await api.call('GET', `/api/v1/namespaces/default/workflows/${id}/history?maximumPageSize=1`);
    assert.equal(hist.body.history.events.length, 1);
    assert.ok(hist.body.nextPageToken);
  });

  test('unknown path 404 code 5, wrong method 501 code 12, unknown namespace 404', async () => {
    const nf = await api.call('GET', '/api/v1/no/such/thing');
    assert.deepEqual(nf.body, { code: 5, message: 'Not Found' });
    assert.equal(nf.status, 404);
    const wm = await api.call('DELETE', '/api/v1/namespaces/default/workflows/x');
    assert.equal(wm.status, 501);
    assert.equal(wm.body.code, 12);
    const ns = await api.call('GET', '/api/v1/namespaces/nope');
    assertRpcError(ns, 404, 5, /^Namespace nope is not found\.$/);
    assert.equal(ns.body.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure');
    const un = await api.call('GET', '/api/v1/namespaces/default/schedules');
    assert.equal(un.status, 501);
    assert.equal(un.body.code, 12);
  });

  test('system-info and describe namespace, with and without /api/v1', async () => {
    for (const p of ['/api/v1/system-info', '/system-info']) {
      const r = await api.call('GET', p);
      assert.equal(r.status, 200);
      assert.match(r.body.serverVersion, /emulator/);
      assert.equal(r.body.capabilities.sdkMetadata, true);
    }
    const r = await api.call('GET', '/api/v1/namespaces/default');
    assert.equal(r.body.namespaceInfo.name, 'default');
    assert.equal(r.body.namespaceInfo.state, 'NAMESPACE_STATE_REGISTERED');
    const h = await api.call('GET', '/emulator/v1/health');
    assert.deepEqual(h.body, { ok: true });
  });

  test('body over 4 MiB -> 400 code 3; payload over 2 MiB -> Blob data size exceeds limit.', async () => {
    const huge = await api.call('POST', '/api/v1/namespaces/default/workflows/huge', JSON.stringify({ identity: 'x'.repeat(4 * 1024 * 1024 + 10) }));
    assertRpcError(huge, 400, 3, /request body too large/);
    const big = await api.start(nextId('big'), { body: { input: ['y'.repeat(2 * 1024 * 1024 + 10)] } });
    assertRpcError(big, 400, 3, /^Blob data size exceeds limit\.$/);
  });

  test('start validation messages of a real frontend', async () => {
    const noType = await api.call('POST', '/api/v1/namespaces/default/workflows/x1', { taskQueue: { name: 'q' } });
    assertRpcError(noType, 400, 3, /^WorkflowType is not set on request\.$/);
    const noQueue = await api.call('POST', '/api/v1/namespaces/default/workflows/x1', { workflowType: { name: WF_TYPE } });
    assertRpcError(noQueue, 400, 3, /^TaskQueue is not set on request\.$/);
    const long = await api.start('w'.repeat(1001));
    assertRpcError(long, 400, 3, /^WorkflowId length exceeds limit\.$/);
  });

  // --- start / conflicts ---------------------------------------------------------------

  test('start -> describe RUNNING with the scheduled activity', async () => {
    const id = nextId('start');
    const s = await api.start(id, { queue: 'q-start' });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.body.started, true);
    assert.match(s.body.runId, /^[0-9a-f-]{36}$/);
    const d = await api.describe(id);
    assert.equal(d.status, 200);
    const info = d.body.workflowExecutionInfo;
    assert.equal(info.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    assert.deepEqual(info.execution, { workflowId: id, runId: s.body.runId });
    assert.equal(info.type.name, WF_TYPE);
    assert.equal(typeof info.historyLength, 'string');
    assert.match(info.startTime, /Z$/);
    assert.equal(info.closeTime, undefined);
    assert.equal(d.body.executionConfig.defaultWorkflowTaskTimeout, '10s');
    assert.equal(d.body.pendingActivities.length, 1);
    const pa = d.body.pendingActivities[0];
    assert.equal(pa.activityId, '1');
    assert.equal(pa.activityType.name, 'fetch_and_process_batch_memories');
    assert.equal(pa.state, 'PENDING_ACTIVITY_STATE_SCHEDULED');
    assert.equal(pa.attempt, 1);
    assert.equal(pa.maximumAttempts, 3);
    const byRun = await api.describe(id, s.body.runId);
    assert.equal(byRun.status, 200);
    const wrongRun = await api.describe(id, '00000000-0000-4000-8000-000000000000');
    assertRpcError(wrongRun, 404, 5, /^workflow execution not found for workflow ID ".*" and run ID "00000000-0000-4000-8000-000000000000"$/);
    const noWf = await api.describe(nextId('missing'));
    assertRpcError(noWf, 404, 5, /^workflow not found for ID: /);
    const notUuid = await api.describe(id, 'not-a-uuid');
    assertRpcError(notUuid, 400, 3, /^Invalid RunId\.$/);
  });

  test('same requestId again -> 200 with the same runId; different requestId -> 409 code 6', async () => {
    const id = nextId('dup');
    const requestId = nextId('rid');
    const a = await api.start(id, { requestId, queue: 'q-dup' });
    const b = await api.start(id, { requestId, queue: 'q-dup' });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body.runId, a.body.runId);
    assert.equal(b.body.started, true); // a retried start answers like the first one
    const c = await api.start(id, { queue: 'q-dup' });
    assertRpcError(c, 409, 6, new RegExp(`^Workflow execution is already running\\. WorkflowId: ${id}, RunId: ${a.body.runId}\\.$`));
    const det = c.body.details[0];
    assert.equal(det['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure');
    assert.equal(det.runId, a.body.runId);
    assert.equal(det.startRequestId, requestId);
  });

  test('WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING -> 200 with the running runId, started false', async () => {
    const id = nextId('use-existing');
    const a = await api.start(id, { queue: 'q-ue' });
    const b = await api.start(id, { queue: 'q-ue', body: { workflowIdConflictPolicy: 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING' } });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body.runId, a.body.runId);
    assert.equal(b.body.started, undefined); // false is omitted
  });

  test('reuse policies after the run closed', async () => {
    const id = nextId('reuse');
    const queue = nextId('q-reuse');
    const a = await api.start(id, { queue });
    const t = await api.poll(queue);
    assert.equal((await api.complete(t.body.taskToken, ['done'])).status, 200);
    const rej = await api.start(id, { queue, body: { workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE' } });
    assertRpcError(rej, 409, 6, /reject duplicate workflow Id/);
    const failedOnly = await api.start(id, { queue, body: { workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' } });
    assertRpcError(failedOnly, 409, 6, /already finished successfully/);
    const again = await api.start(id, { queue });
    assert.equal(again.status, 200);
    assert.notEqual(again.body.runId, a.body.runId);
    const old = await api.describe(id, a.body.runId);
    assert.equal(old.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    const latest = await api.describe(id);
    assert.equal(latest.body.workflowExecutionInfo.execution.runId, again.body.runId);
  });

  test('routes without the /api/v1 prefix work too', async () => {
    const id = nextId('noprefix');
    const s = await api.call('POST', `/namespaces/default/workflows/${id}`, {
      workflowType: { name: WF_TYPE },
      taskQueue: { name: 'q-np' },
      input: [{ request_id: 'r', batch_id: 'b' }],
    });
    assert.equal(s.status, 200, s.text);
    const d = await api.call('GET', `/namespaces/default/workflows/${id}`);
    assert.equal(d.body.workflowExecutionInfo.execution.runId, s.body.runId);
    const t = await api.call('POST', `/namespaces/default/workflows/${id}/terminate`, { reason: 'bye' });
    assert.equal(t.status, 200);
    assert.deepEqual(t.body, {});
  });

  // --- the activity task life cycle -----------------------------------------------------

  test('poll gets the task; heartbeat; complete -> COMPLETED, close event has the result', async () => {
    const id = nextId('happy');
    const queue = nextId('q-happy');
    const s = await api.start(id, { queue });
    const t = await api.poll(queue);
    assert.equal(t.status, 200, t.text);
    const task = t.body;
    assert.ok(task.taskToken);
    assert.equal(task.workflowNamespace, 'default');
    assert.deepEqual(task.workflowExecution, { workflowId: id, runId: s.body.runId });
    assert.equal(task.workflowType.name, WF_TYPE);
    assert.equal(task.activityType.name, 'fetch_and_process_batch_memories');
    assert.equal(task.activityId, '1');
    assert.deepEqual(task.input, [`req-of-${id}`, `batch-of-${id}`]);
    assert.equal(task.attempt, 1);
    assert.equal(task.startToCloseTimeout, '3600s');
    assert.equal(task.retryPolicy.maximumAttempts, 3);
    assert.equal(task.retryPolicy.initialInterval, '2s');
    assert.match(task.startedTime, /Z$/);

    const d1 = await api.describe(id);
    assert.equal(d1.body.pendingActivities[0].state, 'PENDING_ACTIVITY_STATE_STARTED');

    const hb = await api.heartbeat(task.taskToken, [{ done: 3 }]);
    assert.equal(hb.status, 200);
    assert.deepEqual(hb.body, {}); // cancelRequested false is omitted
    const d2 = await api.describe(id);
    assert.deepEqual(d2.body.pendingActivities[0].heartbeatDetails, [{ done: 3 }]);
    assert.match(d2.body.pendingActivities[0].lastHeartbeatTime, /Z$/);

    const result = { request_id: `req-of-${id}`, processed: 2, memories: ['m1', 'm2'] };
    const c = await api.complete(task.taskToken, [result]);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(c.body, {});

    const d3 = await api.describe(id);
    assert.equal(d3.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    assert.match(d3.body.workflowExecutionInfo.closeTime, /Z$/);
    assert.equal(d3.body.pendingActivities, undefined);

    const h = await api.closeEvent(id);
    assert.equal(h.status, 200);
    assert.equal(h.body.history.events.length, 1);
    const ev = h.body.history.events[0];
    assert.equal(ev.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    assert.deepEqual(ev.workflowExecutionCompletedEventAttributes.result, [result]);
    assert.equal(typeof ev.eventId, 'string');

    const full = await api.history(id);
    const types = full.body.history.events.map((e) => e.eventType);
    assert.deepEqual(types.filter((x) => x.startsWith('EVENT_TYPE_ACTIVITY')), [
      'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
      'EVENT_TYPE_ACTIVITY_TASK_STARTED',
      'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
    ]);
    assert.equal(types[0], 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    assert.deepEqual(full.body.history.events[0].workflowExecutionStartedEventAttributes.input, [{ batch_id: `batch-of-${id}`, request_id: `req-of-${id}` }]);
    assert.equal(full.body.nextPageToken, undefined);

    // The token is stale now.
    const again = await api.complete(task.taskToken, ['x']);
    assertRpcError(again, 404, 5, /workflow execution already completed/);
    const garbage = await api.complete(Buffer.from('garbage').toString('base64'), ['x']);
    assertRpcError(garbage, 400, 3, /^Error deserializing task token\.$/);
  });

  test('fail twice, succeed on the third attempt (retries scaled down)', async () => {
    const id = nextId('retry');
    const queue = nextId('q-retry');
    await api.start(id, { queue });
    const t1 = (await api.poll(queue)).body;
    assert.equal(t1.attempt, 1);
    assert.equal((await api.fail(t1.taskToken, 'boom 1')).status, 200);
    const d = await api.describe(id);
    assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    assert.equal(d.body.pendingActivities[0].lastFailure.message, 'boom 1');
    const t2 = (await api.poll(queue)).body;
    assert.equal(t2.attempt, 2);
    assert.notEqual(t2.taskToken, t1.taskToken);
    const stale = await api.heartbeat(t1.taskToken);
    assertRpcError(stale, 404, 5, /invalid activityID or activity already timed out/);
    assert.equal((await api.fail(t2.taskToken, 'boom 2')).status, 200);
    const t3 = (await api.poll(queue)).body;
    assert.equal(t3.attempt, 3);
    assert.equal((await api.complete(t3.taskToken, [{ ok: true }])).status, 200);
    const h = await api.closeEvent(id);
    assert.equal(h.body.history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const full = await api.history(id);
    const started = full.body.history.events.find((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_STARTED');
    assert.equal(started.activityTaskStartedEventAttributes.attempt, 3);
    assert.equal(started.activityTaskStartedEventAttributes.lastFailure.message, 'boom 2');
  });

  test('three failures -> FAILED with MAXIMUM_ATTEMPTS_REACHED', async () => {
    const id = nextId('exhaust');
    const queue = nextId('q-exhaust');
    await api.start(id, { queue });
    for (let k = 1; k <= 3; k++) {
      const t = (await api.poll(queue)).body;
      assert.equal(t.attempt, k);
      assert.equal((await api.fail(t.taskToken, `boom ${k}`)).status, 200);
    }
    const h = await api.closeEvent(id);
    const attrs = h.body.history.events[0].workflowExecutionFailedEventAttributes;
    assert.equal(attrs.failure.message, 'Activity task failed');
    assert.equal(attrs.failure.activityFailureInfo.retryState, 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED');
    assert.equal(attrs.failure.cause.message, 'boom 3');
  });

  test('nonRetryable failure -> FAILED at once, with the activity failure as cause', async () => {
    const id = nextId('nonretry');
    const queue = nextId('q-nonretry');
    await api.start(id, { queue });
    const t = (await api.poll(queue)).body;
    assert.equal((await api.fail(t.taskToken, 'bad request', { nonRetryable: true, type: 'ValueError' })).status, 200);
    const d = await api.describe(id);
    assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_FAILED');
    const h = await api.closeEvent(id);
    const ev = h.body.history.events[0];
    assert.equal(ev.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    const f = ev.workflowExecutionFailedEventAttributes.failure;
    assert.equal(f.message, 'Activity task failed');
    assert.equal(f.activityFailureInfo.activityId, '1');
    assert.equal(f.activityFailureInfo.activityType.name, 'fetch_and_process_batch_memories');
    assert.equal(f.activityFailureInfo.retryState, 'RETRY_STATE_NON_RETRYABLE_FAILURE');
    assert.equal(f.cause.message, 'bad request');
    assert.equal(f.cause.applicationFailureInfo.type, 'ValueError');
    assert.equal(f.cause.applicationFailureInfo.nonRetryable, true);
    assert.deepEqual(f.cause.applicationFailureInfo.details, [{ why: 'bad request' }]);
  });

  test('cancel while running -> heartbeat says cancelRequested -> resolve-as-canceled -> CANCELED', async () => {
    const id = nextId('cancel-running');
    const queue = nextId('q-cr');
    const s = await api.start(id, { queue });
    const t = (await api.poll(queue)).body;
    const early = await api.call('POST', '/api/v1/namespaces/default/activity-resolve-as-canceled', { taskToken: t.taskToken });
    assertRpcError(early, 400, 3, /without activity being request canceled first/);
    const c = await api.cancel(id, s.body.runId);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(c.body, {});
    const d = await api.describe(id);
    assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    assert.equal(d.body.pendingActivities[0].state, 'PENDING_ACTIVITY_STATE_CANCEL_REQUESTED');
    const again = await api.cancel(id, s.body.runId);
    assert.equal(again.status, 200); // idempotent
    const hb = await api.heartbeat(t.taskToken, ['progress']);
    assert.deepEqual(hb.body, { cancelRequested: true });
    const r = await api.call('POST', '/api/v1/namespaces/default/activity-resolve-as-canceled', { taskToken: t.taskToken, details: ['stopped'], identity: 'worker-1' });
    assert.equal(r.status, 200, r.text);
    const h = await api.closeEvent(id);
    assert.equal(h.body.history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED');
    const d2 = await api.describe(id);
    assert.equal(d2.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_CANCELED');
    const closed = await api.cancel(id, s.body.runId);
    assert.equal(closed.status, 200); // a real server answers success for a closed run
  });

  test('cancel before any poll -> CANCELED and the task is gone', async () => {
    const id = nextId('cancel-early');
    const queue = nextId('q-ce');
    await api.start(id, { queue });
    const c = await api.cancel(id);
    assert.equal(c.status, 200);
    const d = await api.describe(id);
    assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_CANCELED');
    const types = (await api.history(id)).body.history.events.map((e) => e.eventType);
    assert.ok(types.includes('EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED'));
    assert.ok(types.includes('EVENT_TYPE_ACTIVITY_TASK_CANCELED'));
    assert.equal(types.at(-1), 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED');
    const p = await api.poll(queue, 50);
    assert.deepEqual(p.body, {});
  });

  test('a client that disconnects during a poll does not lose the task', async () => {
    const id = nextId('disconnect');
    const queue = nextId('q-disc');
    const ac = new AbortController();
    const added = once(state, 'poller-added');
    const pending = fetch(`http://127.0.0.1:${emu.server.address().port}/emulator/v1/namespaces/default/activity-tasks/poll?timeoutMs=5000`, {
      method: 'POST',
      body: JSON.stringify({ taskQueue: { name: queue }, identity: 'gone' }),
      signal: ac.signal,
    }).catch((e) => e.name);
    await added;
    assert.equal(state.pollerCount('default', queue), 1);
    const removed = once(state, 'poller-removed');
    ac.abort();
    assert.equal(await pending, 'AbortError');
    await removed;
    assert.equal(state.pollerCount('default', queue), 0);
    await api.start(id, { queue });
    const t = await api.poll(queue);
    assert.equal(t.body.activityId, '1');
    assert.equal(t.body.workflowExecution.workflowId, id);
  });

  test('a waiting poller gets a task scheduled later; FIFO per queue', async () => {
    const queue = nextId('q-fifo');
    const added = once(state, 'poller-added');
    const waiting = api.poll(queue, 5000, 'early-bird');
    await added;
    const a = nextId('fifo-a');
    const b = nextId('fifo-b');
    await api.start(a, { queue });
    await api.start(b, { queue });
    const first = await waiting;
    assert.equal(first.body.workflowExecution.workflowId, a);
    const second = await api.poll(queue);
    assert.equal(second.body.workflowExecution.workflowId, b);
    const empty = await api.poll(queue, 20);
    assert.deepEqual(empty.body, {});
  });

  test('long-form payloads with Content-Type application/json+no-payload-shorthand', async () => {
    const id = nextId('longform');
    const queue = nextId('q-long');
    const LONG = { 'Content-Type': 'application/json+no-payload-shorthand' };
    const data = Buffer.from(JSON.stringify({ request_id: 'r-long', batch_id: 'b-long' })).toString('base64');
    const s = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}`, {
      workflowType: { name: WF_TYPE },
      taskQueue: { name: queue },
      input: { payloads: [{ metadata: { encoding: JSON_PLAIN_B64 }, data }] },
    }, LONG);
    assert.equal(s.status, 200, s.text);
    // The shorthand array is not accepted in that mode.
    const bad = await api.call('POST', `/api/v1/namespaces/default/workflows/${nextId('x')}`, { input: ['v'] }, LONG);
    assertRpcError(bad, 400, 3, /unexpected token \[/);
    // The poll answer comes back in long form when asked to.
    const t = await api.call('POST', `/emulator/v1/namespaces/default/activity-tasks/poll?timeoutMs=2000`, { taskQueue: { name: queue } }, LONG);
    assert.equal(t.status, 200);
    const p = t.body.input.payloads;
    assert.equal(p.length, 2);
    assert.equal(p[0].metadata.encoding, JSON_PLAIN_B64);
    assert.equal(Buffer.from(p[0].data, 'base64').toString(), '"r-long"');
    const result = { payloads: [{ metadata: { encoding: JSON_PLAIN_B64 }, data: Buffer.from('{"n":1}').toString('base64') }] };
    const c = await api.call('POST', '/api/v1/namespaces/default/activity-complete', { taskToken: t.body.taskToken, result }, LONG);
    assert.equal(c.status, 200, c.text);
    const shortH = await api.closeEvent(id);
    assert.deepEqual(shortH.body.history.events[0].workflowExecutionCompletedEventAttributes.result, [{ n: 1 }]);
    const longH = await api.call('GET', `/api/v1/namespaces/default/workflows/${id}/history?historyEventFilterType=2&noPayloadShorthand`);
    const lr = longH.body.history.events[0].workflowExecutionCompletedEventAttributes.result;
    assert.equal(Buffer.from(lr.payloads[0].data, 'base64').toString(), '{"n":1}');
  });

  test('a non-json payload makes the answer use the long form', async () => {
    const id = nextId('binary');
    const queue = nextId('q-bin');
    await api.start(id, { queue });
    const t = (await api.poll(queue)).body;
    const raw = { metadata: { encoding: Buffer.from('binary/plain').toString('base64') }, data: Buffer.from([1, 2, 3]).toString('base64') };
    assert.equal((await api.complete(t.taskToken, [raw, 'also-json'])).status, 200);
    const h = await api.closeEvent(id);
    const res = h.body.history.events[0].workflowExecutionCompletedEventAttributes.result;
    assert.equal(res.payloads.length, 2);
    assert.equal(res.payloads[0].data, 'AQID');
  });

  test('history long poll returns when the run closes', async () => {
    const id = nextId('longpoll');
    const queue = nextId('q-lp');
    const s = await api.start(id, { queue });
    const t = (await api.poll(queue)).body;
    const changed = once(state, 'run-changed');
    let settled = false;
    const waiting = api.closeEvent(id, s.body.runId, true).then((r) => {
      settled = true;
      return r;
    });
    // Make sure the long poll is registered before completing.
    const run = state.namespace('default').runs.get(s.body.runId);
    while (run.waiters.size === 0) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    await api.complete(t.taskToken, ['fin']);
    await changed;
    const h = await waiting;
    assert.equal(h.body.history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    assert.deepEqual(h.body.history.events[0].workflowExecutionCompletedEventAttributes.result, ['fin']);
  });

  test('invalid workflow input -> FAILED at once', async () => {
    const cases = [
      [{ request_id: 'r' }],
      ['just a string'],
      [{ request_id: 'r', batch_id: 'b' }, 'extra'],
    ];
    for (const input of cases) {
      const id = nextId('badinput');
      const s = await api.start(id, { body: { input } });
      assert.equal(s.status, 200, s.text);
      const d = await api.describe(id);
      assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_FAILED');
      const h = await api.closeEvent(id);
      assert.match(h.body.history.events[0].workflowExecutionFailedEventAttributes.failure.message, /^invalid workflow input: /);
    }
  });

  test('another workflow type stays RUNNING with a pending workflow task; signal, terminate', async () => {
    const id = nextId('other');
    const s = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}`, {
      workflowType: { name: 'SomethingElse' },
      taskQueue: { name: 'q-other' },
    });
    assert.equal(s.status, 200);
    const d = await api.describe(id);
    assert.equal(d.body.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    assert.equal(d.body.pendingActivities, undefined);
    assert.equal(d.body.pendingWorkflowTask.state, 'PENDING_WORKFLOW_TASK_STATE_SCHEDULED');
    const sig = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/signal/poke`, { input: [1, 2] });
    assert.equal(sig.status, 200, sig.text);
    const term = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/terminate`, { reason: 'stop', details: ['x'] });
    assert.equal(term.status, 200);
    const h = await api.closeEvent(id);
    const ev = h.body.history.events[0];
    assert.equal(ev.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED');
    assert.equal(ev.workflowExecutionTerminatedEventAttributes.reason, 'stop');
    const types = (await api.history(id)).body.history.events.map((e) => e.eventType);
    assert.ok(types.includes('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED'));
    const sig2 = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/signal/poke`, {});
    assertRpcError(sig2, 404, 5, /^workflow execution already completed$/);
    const term2 = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/terminate`, {});
    assertRpcError(term2, 404, 5, /^workflow execution already completed$/);
  });

  test('by-id heartbeat and complete routes', async () => {
    const id = nextId('byid');
    const queue = nextId('q-byid');
    await api.start(id, { queue });
    const before = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/activities/1/heartbeat`, {});
    assertRpcError(before, 404, 5, /invalid activityID/);
    await api.poll(queue);
    const hb = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/activities/1/heartbeat`, { details: ['hb'] });
    assert.equal(hb.status, 200, hb.text);
    const c = await api.call('POST', `/api/v1/namespaces/default/workflows/${id}/activities/1/complete`, { result: ['by-id'] });
    assert.equal(c.status, 200, c.text);
    const h = await api.closeEvent(id);
    assert.deepEqual(h.body.history.events[0].workflowExecutionCompletedEventAttributes.result, ['by-id']);
  });

  test('list with a query', async () => {
    const id = nextId('list');
    await api.start(id, { queue: nextId('q-list') });
    const byId = await api.call('GET', `/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId = '${id}'`)}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.body.executions.length, 1);
    assert.equal(byId.body.executions[0].execution.workflowId, id);
    const running = await api.call('GET', `/api/v1/namespaces/default/workflows?query=${encodeURIComponent("ExecutionStatus = 'Running'")}`);
    assert.ok(running.body.executions.some((e) => e.execution.workflowId === id));
    assert.ok(running.body.executions.every((e) => e.status === 'WORKFLOW_EXECUTION_STATUS_RUNNING'));
    const all = await api.call('GET', '/api/v1/namespaces/default/workflows');
    assert.ok(all.body.executions.length >= 2);
    const bad = await api.call('GET', `/api/v1/namespaces/default/workflows?query=${encodeURIComponent('StartTime > 5')}`);
    assertRpcError(bad, 400, 3, /^invalid query/);
  });

  test('unknown query parameters are ignored; a bad enum value in the query is 400', async () => {
    const id = nextId('query');
    await api.start(id);
    const r = await api.call('GET', `/api/v1/namespaces/default/workflows/${id}?execution.runid=zzz&whatever=1`);
    assert.equal(r.status, 200);
    const bad = await api.call('GET', `/api/v1/namespaces/default/workflows/${id}/history?historyEventFilterType=NOPE`);
    assertRpcError(bad, 400, 3, /is not a valid value/);
  });
});

describe('temporal emulator timeouts (in-process)', () => {
  let emu;
  let api;

  before(async () => {
    // start-to-close 3600 s * 1e-6 = 3.6 ms; history long polls end after 100 ms
    emu = createServer({ retryScale: 0.000001, historyWaitMs: 100, log: () => {} });
    const port = await emu.listen(0);
    api = client(`http://127.0.0.1:${port}`);
  });
  after(async () => {
    await emu.close();
  });

  test('history long poll on an open run ends with an empty page and a nextPageToken', async () => {
    const id = nextId('lp-timeout');
    await api.start(id, { queue: nextId('q-never-polled') });
    const h = await api.closeEvent(id, undefined, true);
    assert.equal(h.status, 200);
    assert.deepEqual(h.body.history, {});
    assert.ok(h.body.nextPageToken);
  });

  test('start-to-close timeouts are retried, then the run fails with a TimedOut event', async () => {
    const id = nextId('stc');
    const queue = nextId('q-stc');
    await api.start(id, { queue });
    for (let k = 1; k <= 3; k++) {
      const t = await api.poll(queue, 2000);
      assert.equal(t.body.attempt, k);
    }
    let h;
    do {
      h = await api.closeEvent(id, undefined, true);
    } while (!h.body.history.events);
    const f = h.body.history.events[0].workflowExecutionFailedEventAttributes.failure;
    assert.equal(f.cause.timeoutFailureInfo.timeoutType, 'TIMEOUT_TYPE_START_TO_CLOSE');
    const types = (await api.history(id)).body.history.events.map((e) => e.eventType);
    assert.ok(types.includes('EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT'));
  });
});

test('CLI: port file, listening line, health, clean exit on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-emu-'));
  const portFile = path.join(dir, 'port');
  const child = spawn(process.execPath, [path.join(here, 'server.mjs'), '--port', '0', '--port-file', portFile, '--retry-scale', '0.01'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  let stdout = '';
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      stdout += c;
      if (stdout.includes('\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
  });
  const m = /^temporal-emulator listening on http:\/\/127\.0\.0\.1:(\d+)\n$/.exec(stdout);
  assert.ok(m, stdout);
  assert.equal(fs.readFileSync(portFile, 'utf8').trim(), m[1]);
  const res = await fetch(`http://127.0.0.1:${m[1]}/emulator/v1/health`, { headers: { Authorization: 'Bearer secret-token' } });
  assert.deepEqual(await res.json(), { ok: true });
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /GET \/emulator\/v1\/health 200/);
  assert.doesNotMatch(stderr, /secret-token/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('close() answers a pending poll with {} and a pending history long poll with an empty page', async () => {
  const emu = createServer({ log: () => {} });
  const port = await emu.listen(0);
  const api = client(`http://127.0.0.1:${port}`);
  const id = nextId('shutdown');
  await api.start(id, { queue: 'q-shutdown-other' });
  const pollerAdded = once(emu.state, 'poller-added');
  const poll = api.poll('q-shutdown', 60000);
  await pollerAdded;
  const run = [...emu.state.namespace('default').runs.values()].find((r) => r.workflowId === id);
  const hist = api.closeEvent(id, undefined, true);
  while (run.waiters.size === 0) await new Promise((r) => setImmediate(r));
  await emu.close();
  assert.deepEqual((await poll).body, {});
  const h = await hist;
  assert.deepEqual(h.body.history, {});
  assert.ok(h.body.nextPageToken);
});
