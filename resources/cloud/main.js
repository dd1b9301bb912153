// Cloud Code that membatch ships with its schema (resources/parse-schema.json).
// What a user may write to the classes membatch owns is checked here, where
// Parse runs: a client's own checks protect nobody from another client. The
// master key (the worker, an admin) is trusted and not checked.
//
// Memory needs nothing here: its class-level permissions let only the
// master key create, change or delete one.
//
// Load it with Parse Server's `cloud` option (CommonJS; `Parse` is global).

const STATUSES = ['pending', 'processing', 'completed', 'partial_failure', 'failed', 'canceled'];
// What a submitter may change on its own request after creating it: the
// run id it learnt from Temporal, or the verdict that its start failed.
const SUBMITTER_UPDATES = new Set(['workflowRunId', 'status', 'errors', 'completedAt', 'processingDurationMs']);
const COUNTS = ['processedCount', 'successCount', 'failCount'];
const MAX_ID_LENGTH = 200; // the batch id becomes part of a workflow id

function refuse(message) {
  throw new Parse.Error(Parse.Error.VALIDATION_ERROR, `BatchMemoryRequest: ${message}`);
}

function isCount(v) {
  return Number.isSafeInteger(v) && v >= 0;
}

// A file field must name a file this server stored, by its url. A name-only
// File keeps no data, and Parse Server 9 exits on it: whatever a trigger
// answers, it logs the object as JSON, and encoding an unsaved file throws
// where nothing catches it (the LiveQuery publisher does the same). So a bad
// file is taken off the object before the save is refused. A url elsewhere
// would send the worker to fetch from any host.
function checkFile(object, key, filesUrl) {
  const file = object.get(key);
  let why = null;
  if (!(file instanceof Parse.File)) why = `${key} must be a File`;
  else if (!file.url()) why = `${key} must be an uploaded file with its url (upload it with POST /files/NAME first)`;
  // Where this server's files adapter puts a file of that name.
  else if (file.url() !== filesUrl + encodeURIComponent(file.name())) {
    why = `${key} must be a file of this server (${filesUrl}NAME, with its own name)`;
  }
  if (why) {
    object.unset(key);
    refuse(why);
  }
}

Parse.Cloud.beforeSave('BatchMemoryRequest', (request) => {
  if (request.master) return;
  const o = request.object;
  const filesUrl = `${request.config.mount}/files/${request.config.applicationId}/`;

  if (!request.original) {
    const batchId = o.get('batchId');
    if (typeof batchId !== 'string' || batchId.length === 0 || batchId.length > MAX_ID_LENGTH) {
      refuse(`batchId must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    }
    if (o.get('status') !== 'pending') refuse("a new request's status must be 'pending'");
    // What status and watch follow: this batch's own workflow, no other's.
    if (o.get('workflowId') !== undefined && o.get('workflowId') !== `batch-${batchId}`) {
      refuse(`workflowId must be batch-${batchId}`);
    }
    for (const key of ['workflowRunId', 'startedAt', 'completedAt', 'processingDurationMs']) {
      if (o.get(key) !== undefined) refuse(`only the worker sets ${key}`);
    }
    if (!isCount(o.get('totalMemories')) || o.get('totalMemories') === 0) refuse('totalMemories must be a positive integer');
    for (const key of COUNTS) {
      if (o.get(key) !== undefined && o.get(key) !== 0) refuse(`a new request's ${key} must be 0`);
    }
    checkFile(o, 'batchDataFile', filesUrl);
    const user = o.get('user');
    if (user !== undefined && (!request.user || user.id !== request.user.id)) {
      refuse('user must be the signed-in user who creates the request');
    }
    return;
  }

  for (const key of o.dirtyKeys()) {
    if (!SUBMITTER_UPDATES.has(key)) refuse(`only the worker may change ${key}`);
  }
  if (o.dirty('status')) {
    if (o.get('status') !== 'failed' || request.original.get('status') !== 'pending') {
      refuse("a submitter may only mark its pending request 'failed'");
    }
  }
  if (o.dirty('errors') && !Array.isArray(o.get('errors'))) refuse('errors must be an array');
  if (!STATUSES.includes(o.get('status'))) refuse(`status must be one of ${STATUSES.join(', ')}`);
});
