// The AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis, tests/js/package-lock.json) against a
// running tideline, with the client's defaults: only the endpoint, the region and the credentials
// are set, so requests go over the SDK's default HTTP/2 handler (h2c on an http:// endpoint, h2
// by ALPN on an https:// one). Run by tests/integration/test_js_sdk.py, which starts the server
// and sets:
//
//   TIDELINE_ENDPOINT           http://127.0.0.1:PORT or https://127.0.0.1:PORT
//   NODE_PATH                   BUILD_DIR/js/node_modules (installed by scripts/setup)
//   NODE_EXTRA_CA_CERTS         with https: the test CA (Node.js reads it at start-up)
//   TIDELINE_SUBSCRIPTION_MS    the server's server.subscription_duration_ms
//   TIDELINE_TEST_TIME_FACTOR   multiplies every deadline (as in harness.py)
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { test, after } = require("node:test");

let sdk, nodeHttpHandler;
try {
  sdk = require("@aws-sdk/client-kinesis");
  nodeHttpHandler = require("@smithy/node-http-handler");
} catch (e) {
  // Fail loudly: the SDK comes from scripts/setup, never from a download at run time.
  console.error(`FATAL: the AWS SDK for JavaScript is not installed (run scripts/setup): ${e.message}`);
  process.exit(2);
}
const {
  KinesisClient,
  KinesisServiceException,
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordCommand,
  PutRecordsCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
  ListShardsCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DeregisterStreamConsumerCommand,
  SubscribeToShardCommand,
  ResourceNotFoundException,
  InvalidArgumentException,
  paginateListStreams,
  paginateListStreamConsumers,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} = sdk;

const endpoint = process.env.TIDELINE_ENDPOINT;
if (!endpoint) {
  console.error("FATAL: TIDELINE_ENDPOINT is not set");
  process.exit(2);
}
const timeFactor = (() => {
  const v = Number(process.env.TIDELINE_TEST_TIME_FACTOR ?? "1");
  return Number.isFinite(v) && v >= 1 && v <= 1000 ? v : 1;
})();
const scaledMs = (ms) => ms * timeFactor;
const subscriptionMs = Number(process.env.TIDELINE_SUBSCRIPTION_MS ?? "0");

const client = new KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDTIDELINETEST", secretAccessKey: "tideline-test-secret" },
});
after(() => client.destroy());

// Each run's names are its own: a failed run leaves nothing a later one trips over.
const runId = crypto.randomBytes(4).toString("hex");
const name = (stem) => `js-${stem}-${runId}`;

// Waiters poll every 50 ms to 1 s instead of the SDK's 10 to 120 s: the server's CREATING and
// DELETING last server.status_delay_ms (500 ms).
const waiterParams = () => ({ client, minDelay: 0.05, maxDelay: 1, maxWaitTime: scaledMs(30000) / 1000 });

async function createStream(streamName, shards) {
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
  const waited = await waitUntilStreamExists(waiterParams(), { StreamName: streamName });
  assert.equal(waited.state, "SUCCESS");
  const { StreamDescriptionSummary: s } = await client.send(
    new DescribeStreamSummaryCommand({ StreamName: streamName }));
  assert.equal(s.StreamStatus, "ACTIVE");
  assert.equal(s.OpenShardCount, shards);
  return s;
}

async function listAllShards(streamName, pageSize) {
  // ListShards has no paginator in the SDK (its NextToken excludes StreamName): follow NextToken.
  const shards = [];
  let page = await client.send(new ListShardsCommand({ StreamName: streamName, MaxResults: pageSize }));
  let pages = 1;
  shards.push(...page.Shards);
  while (page.NextToken) {
    page = await client.send(new ListShardsCommand({ NextToken: page.NextToken, MaxResults: pageSize }));
    shards.push(...page.Shards);
    pages += 1;
  }
  return { shards, pages };
}

// Every record of a shard from `iteratorType`, following NextShardIterator until caught up.
async function readShard(streamName, shardId, iteratorType, sequenceNumber) {
  let { ShardIterator: iterator } = await client.send(new GetShardIteratorCommand({
    StreamName: streamName, ShardId: shardId, ShardIteratorType: iteratorType,
    StartingSequenceNumber: sequenceNumber,
  }));
  const records = [];
  for (let calls = 0; calls < 1000; calls += 1) {
    const r = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    records.push(...r.Records);
    assert.equal(typeof r.MillisBehindLatest, "number");
    if (r.Records.length === 0 && r.MillisBehindLatest === 0) return records;
    iterator = r.NextShardIterator;
    assert.ok(iterator, "an open shard always has a next iterator");
  }
  throw new Error(`shard ${shardId} not caught up after 1000 GetRecords calls`);
}

async function expectError(promise, type, messagePattern) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e?.name}: ${e?.message}`);
    assert.ok(e instanceof KinesisServiceException);
    assert.equal(e.name, type.name);
    assert.equal(e.$fault, "client");
    assert.equal(e.$metadata.httpStatusCode, 400);
    if (messagePattern) assert.match(e.message, messagePattern);
    return e;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

const compareSeq = (a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

test("the client speaks HTTP/2: the SDK's default request handler for Kinesis", async () => {
  // NodeHttp2Handler only speaks HTTP/2 (node:http2, which needs h2c prior knowledge on http://
  // and h2 by ALPN on https://), so every call below that succeeds went over HTTP/2.
  const handler = client.config.requestHandler;
  assert.ok(handler instanceof nodeHttpHandler.NodeHttp2Handler,
    `request handler is ${handler?.constructor?.name}`);
});

const main = name("main");
const puts = new Map(); // sequence number -> { data, key, shard }

test("CreateStream, then waitUntilStreamExists", async () => {
  const s = await createStream(main, 2);
  assert.equal(s.StreamName, main);
  assert.match(s.StreamARN, new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${main}$`));
});

test("PutRecord and PutRecords store every record with increasing sequence numbers", async () => {
  // Every byte value, an empty-ish record and a large one travel unchanged.
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const one = await client.send(new PutRecordCommand({
    StreamName: main, PartitionKey: "pk-single", Data: all,
  }));
  assert.match(one.ShardId, /^shardId-\d{12}$/);
  assert.match(one.SequenceNumber, /^\d+$/);
  puts.set(one.SequenceNumber, { data: all, key: "pk-single", shard: one.ShardId });

  // ExplicitHashKey 0 is the first shard's, whatever the partition key hashes to.
  const low = await client.send(new PutRecordCommand({
    StreamName: main, PartitionKey: "pk-explicit", ExplicitHashKey: "0", Data: Buffer.from("low"),
  }));
  assert.equal(low.ShardId, "shardId-000000000000");
  puts.set(low.SequenceNumber, { data: Buffer.from("low"), key: "pk-explicit", shard: low.ShardId });

  const entries = Array.from({ length: 300 }, (_, i) => ({
    PartitionKey: `pk-${i % 37}`,
    Data: i === 7 ? crypto.randomBytes(200 * 1024) : crypto.randomBytes(1 + (i % 97)),
  }));
  const r = await client.send(new PutRecordsCommand({ StreamName: main, Records: entries }));
  assert.equal(r.FailedRecordCount ?? 0, 0);
  assert.equal(r.Records.length, entries.length);
  const lastByShard = new Map();
  r.Records.forEach((rec, i) => {
    assert.equal(rec.ErrorCode, undefined);
    const previous = lastByShard.get(rec.ShardId);
    if (previous) assert.equal(compareSeq(previous, rec.SequenceNumber), -1);
    lastByShard.set(rec.ShardId, rec.SequenceNumber);
    puts.set(rec.SequenceNumber, { data: entries[i].Data, key: entries[i].PartitionKey, shard: rec.ShardId });
  });
  assert.equal(lastByShard.size, 2, "37 partition keys reach both shards");
});

test("GetShardIterator and GetRecords read back exactly what was put, in order", async () => {
  const { shards } = await listAllShards(main, 100);
  assert.deepEqual(shards.map((s) => s.ShardId), ["shardId-000000000000", "shardId-000000000001"]);
  let read = 0;
  for (const shard of shards) {
    const records = await readShard(main, shard.ShardId, "TRIM_HORIZON");
    const expected = [...puts.entries()].filter(([, p]) => p.shard === shard.ShardId)
      .map(([seq]) => seq).sort(compareSeq);
    assert.deepEqual(records.map((r) => r.SequenceNumber), expected);
    for (const r of records) {
      const p = puts.get(r.SequenceNumber);
      assert.ok(r.Data instanceof Uint8Array);
      assert.ok(Buffer.from(r.Data).equals(p.data), `data of ${r.SequenceNumber}`);
      assert.equal(r.PartitionKey, p.key);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      assert.ok(Math.abs(Date.now() - r.ApproximateArrivalTimestamp.getTime()) < 3600e3);
    }
    // AT_ and AFTER_SEQUENCE_NUMBER start at and just past a record in the middle.
    const middle = expected[Math.floor(expected.length / 2)];
    const at = await readShard(main, shard.ShardId, "AT_SEQUENCE_NUMBER", middle);
    assert.equal(at[0].SequenceNumber, middle);
    const afterMiddle = await readShard(main, shard.ShardId, "AFTER_SEQUENCE_NUMBER", middle);
    assert.deepEqual(afterMiddle.map((r) => r.SequenceNumber), at.slice(1).map((r) => r.SequenceNumber));
    read += records.length;
  }
  assert.equal(read, puts.size);
});

test("ListStreams pages with paginateListStreams; ListShards pages with NextToken", async () => {
  const extra = [name("page-a"), name("page-b"), name("page-c")];
  await Promise.all(extra.map((s, i) => createStream(s, i + 1)));
  const seen = [];
  let pages = 0;
  for await (const page of paginateListStreams({ client, pageSize: 2 }, {})) {
    pages += 1;
    assert.ok(page.StreamNames.length <= 2);
    seen.push(...page.StreamNames);
    for (const summary of page.StreamSummaries ?? []) assert.equal(typeof summary.StreamARN, "string");
  }
  for (const s of [main, ...extra]) assert.equal(seen.filter((x) => x === s).length, 1, s);
  assert.equal(new Set(seen).size, seen.length, "no stream twice");
  assert.ok(pages >= 2, `4 streams in pages of 2 took ${pages} page(s)`);

  const { shards, pages: shardPages } = await listAllShards(extra[2], 1);
  assert.deepEqual(shards.map((s) => s.ShardId),
    ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]);
  assert.equal(shardPages, 3);
  await Promise.all(extra.map((s) => client.send(new DeleteStreamCommand({ StreamName: s }))));
});

test("errors are the SDK's typed exceptions", async () => {
  const missing = name("missing");
  const e = await expectError(
    client.send(new DescribeStreamSummaryCommand({ StreamName: missing })),
    ResourceNotFoundException, new RegExp(missing));
  assert.ok(e.$metadata.requestId, "x-amzn-RequestId reaches the exception");
  await expectError(client.send(new PutRecordCommand({
    StreamName: missing, PartitionKey: "k", Data: Buffer.from("x"),
  })), ResourceNotFoundException);
  // A sequence number that is not one of this store's.
  await expectError(client.send(new GetShardIteratorCommand({
    StreamName: main, ShardId: "shardId-000000000000", ShardIteratorType: "AT_SEQUENCE_NUMBER",
    StartingSequenceNumber: "12345",
  })), InvalidArgumentException);
  // A forged shard iterator.
  await expectError(client.send(new GetRecordsCommand({ ShardIterator: "A".repeat(200) })),
    InvalidArgumentException);
});

// ---- enhanced fan-out ------------------------------------------------------------------------

const fanout = name("fanout");
let consumerArn;

async function waitConsumerActive(arn) {
  const deadline = Date.now() + scaledMs(30000);
  for (;;) {
    const { ConsumerDescription: d } = await client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: arn }));
    if (d.ConsumerStatus === "ACTIVE") return d;
    assert.equal(d.ConsumerStatus, "CREATING");
    if (Date.now() > deadline) assert.fail(`consumer ${arn} not ACTIVE after ${scaledMs(30000)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // polling, bounded by the deadline
  }
}

test("RegisterStreamConsumer, then the consumer becomes ACTIVE and is listed", async () => {
  const s = await createStream(fanout, 1);
  const r = await client.send(new RegisterStreamConsumerCommand({
    StreamARN: s.StreamARN, ConsumerName: "sdk-consumer",
  }));
  consumerArn = r.Consumer.ConsumerARN;
  assert.ok(consumerArn.startsWith(`${s.StreamARN}/consumer/sdk-consumer:`), consumerArn);
  const d = await waitConsumerActive(consumerArn);
  assert.equal(d.ConsumerName, "sdk-consumer");
  const names = [];
  for await (const page of paginateListStreamConsumers({ client, pageSize: 1 }, { StreamARN: s.StreamARN })) {
    names.push(...page.Consumers.map((c) => c.ConsumerName));
  }
  assert.deepEqual(names, ["sdk-consumer"]);
});

async function putBatch(stream, tag, count) {
  const entries = Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${tag}-${i}`, Data: Buffer.from(`${tag}:${i}:${crypto.randomBytes(8).toString("hex")}`),
  }));
  const r = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }));
  assert.equal(r.FailedRecordCount ?? 0, 0);
  return r.Records.map((rec, i) => ({ seq: rec.SequenceNumber, data: entries[i].Data }));
}

// SubscribeToShard, retried after 200 ms while Kinesis's rules refuse it with
// ResourceInUseException (a consumer's new subscription to a shard within 5 s of the previous
// one, or within a shorter subscription duration) or LimitExceededException (more than one call
// a second per consumer and shard), as the KCL retries it.
async function subscribeCall(position, abortSignal) {
  for (;;) {
    try {
      return await client.send(new SubscribeToShardCommand({
        ConsumerARN: consumerArn, ShardId: "shardId-000000000000", StartingPosition: position,
      }), { abortSignal });
    } catch (e) {
      const refused = e instanceof sdk.ResourceInUseException || e instanceof sdk.LimitExceededException;
      if (!refused || abortSignal.aborted) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200)); // retry interval, bounded by the abort
    }
  }
}

// One SubscribeToShard call read to its end (or until `enough()` says stop). Returns how it
// ended and what it delivered.
async function subscribe(position, onEvent, enough) {
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), scaledMs(subscriptionMs + 30000));
  let endedByServer = false;
  let stopped = false;
  let lastContinuation;
  try {
    const response = await subscribeCall(position, abort.signal);
    for await (const event of response.EventStream) {
      assert.deepEqual(Object.keys(event), ["SubscribeToShardEvent"]);
      const e = event.SubscribeToShardEvent;
      assert.ok(Array.isArray(e.Records));
      assert.match(e.ContinuationSequenceNumber, /^\d+$/);
      assert.equal(typeof e.MillisBehindLatest, "number");
      lastContinuation = e.ContinuationSequenceNumber;
      onEvent(e);
      if (enough()) {
        stopped = true;
        abort.abort();
        break;
      }
    }
    endedByServer = !stopped;
  } catch (e) {
    if (!stopped) {
      if (abort.signal.aborted) assert.fail(`subscription still open after ${scaledMs(subscriptionMs + 30000)} ms`);
      throw e;
    }
  } finally {
    clearTimeout(deadline);
  }
  return { endedByServer, lastContinuation };
}

test("SubscribeToShard reads the shard across a renewal with no gap and no repeat", async () => {
  assert.ok(subscriptionMs > 0, "TIDELINE_SUBSCRIPTION_MS must give the server's subscription duration");
  const expected = [...await putBatch(fanout, "before", 200)];
  const received = [];
  const pending = [];
  const onEvent = (e) => {
    for (const r of e.Records) {
      assert.ok(r.Data instanceof Uint8Array);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      received.push({ seq: r.SequenceNumber, data: Buffer.from(r.Data) });
    }
    assert.ok(received.length === 0 || compareSeq(e.ContinuationSequenceNumber, received.at(-1).seq) >= 0,
      "the continuation sequence number is at or past the last record delivered");
  };

  // The first subscription: the backlog, then records put while it is open (pushed live), until
  // the server ends it after server.subscription_duration_ms.
  let livePut = null;
  const first = await subscribe({ Type: "TRIM_HORIZON" }, (e) => {
    onEvent(e);
    if (livePut === null && received.length >= 200) {
      livePut = putBatch(fanout, "during-1", 50).then((recs) => expected.push(...recs));
      pending.push(livePut);
    }
  }, () => false);
  assert.ok(first.endedByServer, "the server ends a subscription after its duration");
  await Promise.all(pending);
  assert.ok(first.lastContinuation);

  // Between subscriptions, then during the second: nothing may be lost or repeated across the
  // renewal at AFTER_SEQUENCE_NUMBER = the last ContinuationSequenceNumber.
  expected.push(...await putBatch(fanout, "between", 30));
  let secondPut = null;
  let position = { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: first.lastContinuation };
  let subscriptions = 1;
  const deadline = Date.now() + scaledMs(subscriptionMs * 4 + 30000);
  for (;;) {
    const before = received.length;
    const next = await subscribe(position, (e) => {
      onEvent(e);
      if (secondPut === null && received.length > before) {
        secondPut = putBatch(fanout, "during-2", 40).then((recs) => expected.push(...recs));
      }
    }, () => secondPut !== null && received.length >= 200 + 50 + 30 + 40);
    subscriptions += 1;
    if (next.lastContinuation) {
      position = { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: next.lastContinuation };
    }
    if (secondPut !== null && received.length >= 320) break;
    assert.ok(Date.now() < deadline, `only ${received.length} of 320 records after ${subscriptions} subscriptions`);
  }
  await secondPut;
  assert.ok(subscriptions >= 2);
  expected.sort((a, b) => compareSeq(a.seq, b.seq));
  assert.deepEqual(received.map((r) => r.seq), expected.map((r) => r.seq), "no gap, no repeat, in order");
  received.forEach((r, i) => assert.ok(r.data.equals(expected[i].data), `data of ${r.seq}`));
});

test("SubscribeToShard with an unknown consumer is a ResourceNotFoundException", async () => {
  const bogus = consumerArn.replace(/consumer\/sdk-consumer:\d+$/, "consumer/nobody:1");
  await expectError((async () => {
    const response = await client.send(new SubscribeToShardCommand({
      ConsumerARN: bogus, ShardId: "shardId-000000000000", StartingPosition: { Type: "LATEST" },
    }));
    for await (const event of response.EventStream) void event;
  })(), ResourceNotFoundException);
});

test("DeregisterStreamConsumer, DeleteStream, then waitUntilStreamNotExists", async () => {
  await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumerArn }));
  for (const s of [main, fanout]) {
    await client.send(new DeleteStreamCommand({ StreamName: s, EnforceConsumerDeletion: true }));
    const waited = await waitUntilStreamNotExists(waiterParams(), { StreamName: s });
    assert.equal(waited.state, "SUCCESS");
    await expectError(client.send(new DescribeStreamSummaryCommand({ StreamName: s })),
      ResourceNotFoundException);
  }
});
