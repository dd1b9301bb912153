// The REAL Temporal HTTP API routes the emulator implements.
//
// Paths, methods and request/response message types are not written here:
// router.mjs takes them from the google.api.http annotations of
// WorkflowService in @temporalio/proto (each route with and without the
// /api/v1 prefix, as servers 1.25+ serve them). This file only maps an RPC
// name to what the emulated server does. An annotated RPC that is missing
// here answers 501 (code 12, Unimplemented).
import { RpcError, Code } from './proto.mjs';
import { errors } from './state.mjs';

export const SERVER_VERSION = '1.25.0-emulator';

function requireNamespace(state, request) {
  if (!request.namespace) throw errors.invalid('Namespace is not set on request.');
  return state.namespace(request.namespace);
}

/** rpc name -> ({state, request, signal}) => internal response message (or a Promise of it). */
export const apiHandlers = {
  GetSystemInfo: () => ({
    serverVersion: SERVER_VERSION,
    capabilities: {
      signalAndQueryHeader: true,
      internalErrorDifferentiation: true,
      activityFailureIncludeHeartbeat: true,
      supportsSchedules: true,
      encodedFailureAttributes: true,
      buildIdBasedVersioning: true,
      upsertMemo: true,
      eagerWorkflowStart: true,
      sdkMetadata: true,
      countGroupByExecutionStatus: true,
      nexus: true,
    },
  }),

  DescribeNamespace: ({ state, request }) => {
    const ns = requireNamespace(state, request);
    return {
      namespaceInfo: {
        name: ns.name,
        state: 'NAMESPACE_STATE_REGISTERED',
        description: ns.name === 'default' ? 'Default namespace for Temporal Server.' : '',
        id: ns.id,
        capabilities: { eagerWorkflowStart: true, syncUpdate: true, asyncUpdate: true },
        supportsSchedules: true,
      },
      config: {
        workflowExecutionRetentionTtl: { seconds: 86400, nanos: 0 },
        badBinaries: {},
        historyArchivalState: 'ARCHIVAL_STATE_DISABLED',
        visibilityArchivalState: 'ARCHIVAL_STATE_DISABLED',
      },
      replicationConfig: {
        activeClusterName: 'active',
        clusters: [{ clusterName: 'active' }],
        state: 'REPLICATION_STATE_NORMAL',
      },
    };
  },

  StartWorkflowExecution: ({ state, request }) => {
    requireNamespace(state, request);
    return state.startWorkflow(request.namespace, request);
  },

  DescribeWorkflowExecution: ({ state, request }) => {
    requireNamespace(state, request);
    if (!request.execution || !request.execution.workflowId) throw errors.invalid('Execution is not set on request.');
    return state.describe(request.namespace, request);
  },

  GetWorkflowExecutionHistory: ({ state, request, signal }) => {
    requireNamespace(state, request);
    if (!request.execution || !request.execution.workflowId) throw errors.invalid('Execution is not set on request.');
    return state.history(request.namespace, request, signal);
  },

  RequestCancelWorkflowExecution: ({ state, request }) => {
    requireNamespace(state, request);
    return state.requestCancel(request.namespace, request);
  },

  TerminateWorkflowExecution: ({ state, request }) => {
    requireNamespace(state, request);
    return state.terminate(request.namespace, request);
  },

  SignalWorkflowExecution: ({ state, request }) => {
    requireNamespace(state, request);
    return state.signal(request.namespace, request);
  },

  ListWorkflowExecutions: ({ state, request }) => {
    requireNamespace(state, request);
    return state.list(request.namespace, request);
  },

  // --- activity heartbeats and results, by task token --------------------------
  RecordActivityTaskHeartbeat: ({ state, request }) =>
    state.heartbeat(state.resolveToken(request.namespace, request.taskToken), request.details, request.identity),
  RespondActivityTaskCompleted: ({ state, request }) =>
    state.completeActivity(state.resolveToken(request.namespace, request.taskToken), request.result, request.identity),
  RespondActivityTaskFailed: ({ state, request }) =>
    state.failActivity(state.resolveToken(request.namespace, request.taskToken), request.failure, request.identity, request.lastHeartbeatDetails),
  RespondActivityTaskCanceled: ({ state, request }) =>
    state.cancelActivityResolved(state.resolveToken(request.namespace, request.taskToken), request.details, request.identity),

  // --- the same by workflow id + activity id -----------------------------------
  RecordActivityTaskHeartbeatById: ({ state, request }) =>
    state.heartbeat(byId(state, request), request.details, request.identity),
  RespondActivityTaskCompletedById: ({ state, request }) =>
    state.completeActivity(byId(state, request), request.result, request.identity),
  RespondActivityTaskFailedById: ({ state, request }) =>
    state.failActivity(byId(state, request), request.failure, request.identity, request.lastHeartbeatDetails),
  RespondActivityTaskCanceledById: ({ state, request }) =>
    state.cancelActivityResolved(byId(state, request), request.details, request.identity),
};

function byId(state, request) {
  requireNamespace(state, request);
  if (!request.workflowId) {
    // /namespaces/{ns}/activities/{id}/... without a workflow id addresses a
    // standalone activity, which the emulator does not have.
    throw new RpcError(Code.UNIMPLEMENTED, 'standalone activities are not implemented by the temporal emulator');
  }
  return state.resolveById(request.namespace, request.workflowId, request.runId, request.activityId);
}
