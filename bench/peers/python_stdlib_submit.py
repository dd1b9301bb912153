#!/usr/bin/env python3
"""The Python stdlib peer: the seeds' submit steps as users write them today.
Reads the whole JSON lines file, checks each item has content, cuts chunks
of 1000, and for each: json.dumps + gzip.compress (level 6), POST the file,
POST the BatchMemoryRequest, POST the Temporal start. One request at a time
(urllib, a connection each), as the user in MEMBATCH_USERNAME.

usage: python_stdlib_submit.py FILE PREFIX   (environment: the stack's MEMBATCH_*)
"""
import gzip
import json
import os
import sys
import urllib.request
import uuid

env = os.environ
parse = env["MEMBATCH_PARSE_URL"].rstrip("/")
temporal = env["MEMBATCH_TEMPORAL_URL"].rstrip("/")
headers = {"X-Parse-Application-Id": env["MEMBATCH_APP_ID"], "X-Parse-REST-API-Key": env["MEMBATCH_REST_KEY"]}


def call(method, url, body, extra=None, raw=False):
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={**headers, **(extra or {}),
                                 "Content-Type": "application/gzip" if raw else "application/json"})
    with urllib.request.urlopen(req) as answer:
        return json.load(answer)


def main():
    path, prefix = sys.argv[1], sys.argv[2]
    with open(path) as f:
        items = [json.loads(line) for line in f if line.strip()]
    for i, item in enumerate(items):
        if not isinstance(item.get("content"), str) or not item["content"]:
            sys.exit(f"item {i + 1}: no content")
    login = call("POST", parse + "/login", {"username": env["MEMBATCH_USERNAME"], "password": env["MEMBATCH_PASSWORD"]})
    session = {"X-Parse-Session-Token": login["sessionToken"]}
    for n, start in enumerate(range(0, len(items), 1000), 1):
        chunk = items[start:start + 1000]
        raw = json.dumps(chunk).encode()
        packed = gzip.compress(raw, 6)
        batch_id = f"{prefix}-{n:04d}"
        file = call("POST", f"{parse}/files/batch_{batch_id}.json.gz", packed, session, raw=True)
        request = call("POST", parse + "/classes/BatchMemoryRequest", {
            "batchId": batch_id, "requestId": str(uuid.uuid4()), "status": "pending", "totalMemories": len(chunk),
            "processedCount": 0, "successCount": 0, "failCount": 0, "errors": [], "workflowId": f"batch-{batch_id}",
            "batchDataFile": {"__type": "File", "name": file["name"], "url": file["url"]},
            "batchMetadata": {"memory_count": len(chunk), "total_size_bytes": len(raw), "compressed_size_bytes": len(packed),
                              "chunk_num": n, "total_chunks": (len(items) + 999) // 1000},
            "user": {"__type": "Pointer", "className": "_User", "objectId": login["objectId"]},
            "ACL": {login["objectId"]: {"read": True, "write": True}}}, session)
        call("POST", f"{temporal}/api/v1/namespaces/{env['MEMBATCH_NAMESPACE']}/workflows/batch-{batch_id}", {
            "workflowId": f"batch-{batch_id}", "workflowType": {"name": "ProcessBatchMemoryFromRequestWorkflow"},
            "taskQueue": {"name": env["MEMBATCH_TASK_QUEUE"]}, "requestId": str(uuid.uuid4()),
            "input": [{"request_id": request["objectId"], "batch_id": batch_id}]})


if __name__ == "__main__":
    main()
