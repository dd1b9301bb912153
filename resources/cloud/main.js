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
// As submit checks it: the batch id becomes part of a workflow id, and is
// printed on operators' terminals (no control characters, no escapes).
const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
// A name Parse Server gives an upload: its 32 hex characters, "_", the
// name the client sent (letters, digits and @.~_- only). Never a "/": gc
// deletes files by name.
const FILE_NAME = /^[0-9a-f]{32}_[A-Za-z0-9@.~_-]{1,200}$/;

// What the worker alone records on a request.
const WORKER_FIELDS = ['workflowRunId', 'startedAt', 'completedAt', 'processingDurationMs', 'resultsFile',
  'webhookSent', 'webhookSentAt', 'webhookAttempts', 'webhookLastError'];
const MAX_URL_LENGTH = 2048;
// Standard Webhooks: "whsec_" and the base64 of 24 to 64 random bytes.
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

// A submission's request ids are derived from it (so that sending it again
// finds them) and start with this prefix of the user's: see SubmitJob.
function userPrefix(userId) {
  return require('crypto').createHash('sha256').update(`membatch-user:${userId}`).digest('hex').slice(0, 8);
}
const REQUEST_ID = /^[0-9a-f]{24}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

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
//
// And it must be the user's own upload, as the file registry (MembatchFile,
// written by the upload trigger below) knows it: naming another user's file
// (an avatar, someone's batch) would hand it to the worker, and to gc.
async function checkFile(object, key, filesUrl, user) {
  const file = object.get(key);
  let why = null;
  if (!(file instanceof Parse.File)) why = `${key} must be a File`;
  else if (!file.url()) why = `${key} must be an uploaded file with its url (upload it with POST /files/NAME first)`;
  else if (!FILE_NAME.test(file.name())) why = `${key} must have a name Parse Server gave it (32 hex characters, "_", the name)`;
  // Where this server's files adapter puts a file of that name.
  else if (file.url() !== filesUrl + encodeURIComponent(file.name())) {
    why = `${key} must be a file of this server (${filesUrl}NAME, with its own name)`;
  } else {
    const row = await new Parse.Query('MembatchFile').equalTo('name', file.name()).first({ useMasterKey: true });
    const owner = row && row.get('user');
    if (!row || !owner || !user || owner.id !== user.id) why = `${key} must be a file the signed-in user uploaded`;
  }
  if (why) {
    object.unset(key);
    refuse(why);
  }
}

// A webhook goes with a secret to sign it, to an http(s) url. (Where the
// url may lead is the worker's to check: it resolves the host.)
function checkWebhook(o) {
  const url = o.get('webhookUrl');
  const secret = o.get('webhookSecret');
  if (url === undefined && secret === undefined) return;
  if (typeof url !== 'string' || url.length > MAX_URL_LENGTH || !/^https?:\/\/[^\s/]+/i.test(url)) {
    refuse(`webhookUrl must be an http or https url of at most ${MAX_URL_LENGTH} characters`);
  }
  if (typeof secret !== 'string' || !WEBHOOK_SECRET.test(secret)) {
    refuse('webhookSecret must be "whsec_" followed by the base64 of 24 to 64 bytes');
  }
}

// The seeds' tenant (seed 000): pointers to objects that exist, a namespace
// or workspace of the request's own organization, and an organization only
// its members may name: its role reads the request.
const TENANT = [['organization', 'Organization'], ['namespace', 'Namespace'], ['workspace', 'WorkSpace']];
async function checkTenant(o, user) {
  const org = o.get('organization');
  for (const [key, cls] of TENANT) {
    const p = o.get(key);
    if (p === undefined) continue;
    if (!(p instanceof Parse.Object) || p.className !== cls || !p.id) refuse(`${key} must be a pointer to ${cls}`);
    const found = await new Parse.Query(cls).get(p.id, { useMasterKey: true }).catch(() => null);
    if (!found) refuse(`${key} ${p.id} does not exist`);
    const owner = key === 'organization' ? null : found.get('organization');
    if (owner && (!org || owner.id !== org.id)) refuse(`${key} ${p.id} belongs to another organization than the request's`);
  }
  if (org) {
    const member = user && (await new Parse.Query(Parse.Role)
      .equalTo('name', `org_${org.id}`)
      .equalTo('users', user)
      .first({ useMasterKey: true }));
    if (!member) refuse(`the signed-in user is not a member of organization ${org.id} (role org_${org.id})`);
  }
}

// The ACL of a request a user creates is what membatch itself sets
// (ChunkSubmitJob), whatever the client sent: the user reads and writes it,
// and the role of its organization (the user is a member: checkTenant)
// reads it. Parse's default ACL is public: a request made by hand with
// curl would be readable by every user, and its batch id would show in
// their submits and lists. The worker copies this ACL to the request's
// memories and result pages, so they follow it.
function requestAcl(user, organization) {
  const acl = new Parse.ACL();
  acl.setReadAccess(user.id, true);
  acl.setWriteAccess(user.id, true);
  if (organization) acl.setRoleReadAccess(`org_${organization.id}`, true);
  return acl;
}

Parse.Cloud.beforeSave('BatchMemoryRequest', async (request) => {
  if (request.master) return;
  const o = request.object;
  const filesUrl = `${request.config.mount}/files/${request.config.applicationId}/`;

  if (!request.original) {
    // Its CLP asks for a session already; the ACL below needs the user.
    if (!request.user) refuse('only a signed-in user (or the master key) creates a request');
    const batchId = o.get('batchId');
    if (typeof batchId !== 'string' || !BATCH_ID.test(batchId)) {
      refuse("batchId must be 1 to 100 letters, digits, '-' and '_', starting with a letter or digit");
    }
    if (o.get('status') !== 'pending') refuse("a new request's status must be 'pending'");
    if (o.id !== undefined) {
      const prefix = request.user ? userPrefix(request.user.id) : null;
      if (!prefix || !REQUEST_ID.test(o.id) || !o.id.startsWith(prefix)) {
        refuse(`a request id chosen by its client must be 24 hex digits starting with ${prefix || "the signed-in user's prefix"}`);
      }
    }
    const parent = o.get('parentBatchId');
    if (parent !== undefined && (typeof parent !== 'string' || !BATCH_ID.test(parent) || !batchId.startsWith(`${parent}-`))) {
      refuse('parentBatchId must be a batch id, and the chunk\'s batchId must be it, "-" and the chunk\'s number');
    }
    // A retry (membatch retry-failed) names the batch it retries: one of
    // the same user's, so nobody links their batch to another's, nor learns
    // from the answer which batch ids another user has.
    const retryOf = o.get('retryOf');
    if (retryOf !== undefined) {
      if (typeof retryOf !== 'string' || !BATCH_ID.test(retryOf)) refuse('retryOf must be a batch id');
      const mine = request.user && (await Parse.Query.or(
        new Parse.Query('BatchMemoryRequest').equalTo('batchId', retryOf),
        new Parse.Query('BatchMemoryRequest').equalTo('parentBatchId', retryOf),
      ).equalTo('user', request.user).first({ useMasterKey: true }));
      if (!mine) refuse('retryOf must name a batch of the signed-in user');
    }
    const sha = o.get('inputSha256');
    if (sha !== undefined && (typeof sha !== 'string' || !SHA256_HEX.test(sha))) refuse('inputSha256 must be 64 hex digits');
    // What status and watch follow: this batch's own workflow, no other's.
    if (o.get('workflowId') !== undefined && o.get('workflowId') !== `batch-${batchId}`) {
      refuse(`workflowId must be batch-${batchId}`);
    }
    for (const key of WORKER_FIELDS) {
      if (o.get(key) !== undefined) refuse(`only the worker sets ${key}`);
    }
    checkWebhook(o);
    if (!isCount(o.get('totalMemories')) || o.get('totalMemories') === 0) refuse('totalMemories must be a positive integer');
    for (const key of COUNTS) {
      if (o.get(key) !== undefined && o.get(key) !== 0) refuse(`a new request's ${key} must be 0`);
    }
    await checkFile(o, 'batchDataFile', filesUrl, request.user);
    await checkTenant(o, request.user);
    const user = o.get('user');
    if (user !== undefined && (!request.user || user.id !== request.user.id)) {
      refuse('user must be the signed-in user who creates the request');
    }
    // Whose it is, always: gc deletes only files of the request's own user.
    if (user === undefined && request.user) o.set('user', request.user);
    o.setACL(requestAcl(request.user, o.get('organization')));
    return;
  }

  // Who reads a request is the server's to say, once: a user who widened
  // it would hand the request, and the memories and results the worker
  // writes under the same ACL, to everyone.
  if (o.dirty('ACL')) refuse('its ACL is set by the server when it is created; no user may change it');
  for (const key of o.dirtyKeys()) {
    if (!SUBMITTER_UPDATES.has(key)) refuse(`only the worker may change ${key}`);
  }
  if (o.dirty('status')) {
    if (o.get('status') !== 'failed' || request.original.get('status') !== 'pending') {
      refuse("a submitter may only mark its pending request 'failed'");
    }
    // When it ended is the server's to say: gc goes by it.
    o.set('completedAt', new Date());
  } else if (o.dirty('completedAt') || o.dirty('processingDurationMs')) {
    refuse('only the worker sets completedAt and processingDurationMs');
  }
  if (o.dirty('errors') && !Array.isArray(o.get('errors'))) refuse('errors must be an array');
  if (!STATUSES.includes(o.get('status'))) refuse(`status must be one of ${STATUSES.join(', ')}`);
});

// ---- Organizations' roles ---------------------------------------------
//
// The role org_<organization id> decides who may name an organization on a
// request, and who reads its requests and memories. Parse lets any user
// create a role (its _Role class is open) and role names are unique: a user
// who made org_<id> before the operator did would be its member, and read
// the organization's batches. Only the master key makes, changes or deletes
// one.
const ORG_ROLE = /^org_/;
function refuseRole(name) {
  throw new Parse.Error(Parse.Error.OPERATION_FORBIDDEN, `_Role: only the master key creates, changes or deletes ${name}`);
}
Parse.Cloud.beforeSave(Parse.Role, (request) => {
  if (request.master) return;
  const names = [request.object.get('name'), request.original && request.original.get('name')];
  for (const name of names) if (typeof name === 'string' && ORG_ROLE.test(name)) refuseRole(name);
});
Parse.Cloud.beforeDelete(Parse.Role, (request) => {
  if (request.master) return;
  const name = request.object.get('name');
  if (typeof name === 'string' && ORG_ROLE.test(name)) refuseRole(name);
});

// ---- The file registry, for `membatch gc` ------------------------------
//
// Parse's REST API cannot list the files a server holds, so a file that no
// request points to any more (an upload whose request was never created, a
// request deleted by hand) could never be found again. Every upload is
// recorded here instead, as a MembatchFile object (name, url, size, and the
// user who uploaded it, if any), which only the master key can read or
// change (resources/parse-schema.json). Files uploaded before this trigger
// was loaded have no row: gc does not know them and never removes them.
//
// Parse Server 9 awaits this trigger before it answers the upload, and a
// trigger that throws turns the answer into an error although the file is
// stored. So a failure to record is logged, never thrown: the upload stands,
// and the file is only unknown to gc.
Parse.Cloud.afterSave(Parse.File, async (request) => {
  const file = request.file;
  try {
    const row = new Parse.Object('MembatchFile');
    row.set('name', file.name());
    row.set('url', file.url());
    if (Number.isSafeInteger(request.fileSize)) row.set('size', request.fileSize);
    if (request.user) row.set('user', request.user);
    row.setACL(new Parse.ACL()); // nobody but the master key
    await row.save(null, { useMasterKey: true });
  } catch (e) {
    const message = `membatch: could not record file ${file && file.name()} in MembatchFile ` +
      `(gc will not know it): ${e && e.message ? e.message : e}`;
    if (request.log && typeof request.log.error === 'function') request.log.error(message);
    else console.error(message);
  }
});
