// EMULATOR-ONLY routes. A real Temporal server has NO HTTP route for these:
// workers poll for tasks over gRPC only. The project's tests need one way for
// a worker to get activity tasks from the emulator, so this file adds exactly:
//
//   POST /emulator/v1/namespaces/{namespace}/activity-tasks/poll
//        body: temporal.api.workflowservice.v1.PollActivityTaskQueueRequest
//        answer: temporal.api.workflowservice.v1.PollActivityTaskQueueResponse,
//                or {} when no task arrived within the poll timeout
//        query: ?timeoutMs=N shortens the long poll (tests)
//   GET  /emulator/v1/health  ->  {"ok":true}
//
// Everything a worker does AFTER getting a task (heartbeat, complete, fail,
// resolve-as-canceled) goes through the real API routes (routes-api.mjs).
import { errors } from './state.mjs';

const POLL_REQUEST = 'temporal.api.workflowservice.v1.PollActivityTaskQueueRequest';
const POLL_RESPONSE = 'temporal.api.workflowservice.v1.PollActivityTaskQueueResponse';

/**
 * Long-poll for an activity task. The task is handed out only to a poller
 * whose connection is still open at that moment; a poller that disconnects
 * is removed and the task stays queued for the next one (FIFO per queue).
 */
function pollActivityTask({ state, request, query, isAlive, signal }) {
  if (!request.namespace) throw errors.invalid('Namespace is not set on request.');
  state.namespace(request.namespace);
  const queue = request.taskQueue && request.taskQueue.name;
  if (!queue) throw errors.invalid('TaskQueue is not set on request.');
  let timeoutMs = state.pollTimeoutMs;
  if (query.has('timeoutMs')) {
    const t = Number(query.get('timeoutMs'));
    if (Number.isFinite(t) && t >= 0) timeoutMs = Math.min(t, timeoutMs);
  }
  return new Promise((resolve) => {
    let done = false;
    let remove = null;
    let timer = null;
    const finish = (resp) => {
      if (done) return;
      done = true;
      state.clearTimer(timer);
      if (remove) remove();
      signal.removeEventListener('abort', onAbort);
      state.off('shutdown', onShutdown);
      resolve(resp);
    };
    const onAbort = () => finish(null); // client gone: nothing to write
    const onShutdown = () => finish({});
    const poller = {
      identity: request.identity || '',
      isAlive: () => !done && isAlive(),
      deliver: (resp) => finish(resp),
    };
    signal.addEventListener('abort', onAbort, { once: true });
    state.on('shutdown', onShutdown);
    timer = state.setTimer(() => finish({}), timeoutMs);
    remove = state.addPoller(request.namespace, queue, poller);
    if (done) remove();
  });
}

/** Emulator-only routes, in the same shape as the annotated real ones. */
export const emulatorRoutes = [
  {
    method: 'POST',
    path: '/emulator/v1/namespaces/{namespace}/activity-tasks/poll',
    body: '*',
    rpc: 'EmulatorPollActivityTaskQueue',
    requestType: POLL_REQUEST,
    responseType: POLL_RESPONSE,
    handler: pollActivityTask,
  },
  {
    method: 'GET',
    path: '/emulator/v1/health',
    body: '',
    rpc: 'EmulatorHealth',
    raw: true, // plain JSON, not a proto message
    handler: () => ({ ok: true }),
  },
];
