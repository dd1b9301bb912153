// The Parse JS SDK peer: the seeds' submit steps as users write them today.
// Reads the whole JSON lines file, checks each item has content, cuts chunks
// of 1000, and for each: JSON + gzip (zlib level 6), a Parse.File saved, a
// BatchMemoryRequest saved, the Temporal start by fetch. One at a time.
//
// usage: node parse_sdk_submit.mjs FILE PREFIX   (environment: the stack's MEMBATCH_*)
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const require = createRequire(path.resolve(process.env.MEMBATCH_NODE_MODULES, 'x.js'));
const Parse = require('parse/node');
const env = process.env;
const [file, prefix] = process.argv.slice(2);

Parse.initialize(env.MEMBATCH_APP_ID, env.MEMBATCH_REST_KEY);
Parse.serverURL = env.MEMBATCH_PARSE_URL;
const items = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
items.forEach((item, i) => {
  if (typeof item.content !== 'string' || !item.content) throw new Error(`item ${i + 1}: no content`);
});
const user = await Parse.User.logIn(env.MEMBATCH_USERNAME, env.MEMBATCH_PASSWORD);
const session = { sessionToken: user.getSessionToken() };
const total = Math.ceil(items.length / 1000);
for (let n = 1, start = 0; start < items.length; ++n, start += 1000) {
  const chunk = items.slice(start, start + 1000);
  const raw = Buffer.from(JSON.stringify(chunk));
  const packed = zlib.gzipSync(raw, { level: 6 });
  const batchId = `${prefix}-${String(n).padStart(4, '0')}`;
  const parseFile = await new Parse.File(`batch_${batchId}.json.gz`, { base64: packed.toString('base64') }, 'application/gzip').save(session);
  const request = new Parse.Object('BatchMemoryRequest');
  request.set({
    batchId, requestId: randomUUID(), status: 'pending', totalMemories: chunk.length, processedCount: 0, successCount: 0,
    failCount: 0, errors: [], workflowId: `batch-${batchId}`, batchDataFile: parseFile, user,
    batchMetadata: { memory_count: chunk.length, total_size_bytes: raw.length, compressed_size_bytes: packed.length, chunk_num: n, total_chunks: total },
  });
  request.setACL(new Parse.ACL(user));
  await request.save(null, session);
  const answer = await fetch(`${env.MEMBATCH_TEMPORAL_URL}/api/v1/namespaces/${env.MEMBATCH_NAMESPACE}/workflows/batch-${batchId}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      workflowId: `batch-${batchId}`, workflowType: { name: 'ProcessBatchMemoryFromRequestWorkflow' },
      taskQueue: { name: env.MEMBATCH_TASK_QUEUE }, requestId: randomUUID(),
      input: [{ request_id: request.id, batch_id: batchId }],
    }),
  });
  if (!answer.ok) throw new Error(`start ${batchId}: ${answer.status} ${await answer.text()}`);
}
