/**
 * Binds a JobStore to an MQTT broker the way AWS IoT Core exposes the Jobs device API: requests on
 * `$aws/things/{thing}/jobs/...`, answers on `/accepted` or `/rejected`, and `notify` / `notify-next`
 * whenever a thing's pending executions change, whoever changed them (the device, a timer, the
 * operator). Job documents are rendered at delivery: presigned-URL placeholders become fresh URLs.
 *
 * Store calls run in arrival order as messages come in; their replies and notifications are published
 * through one queue, in the order they happened (a reply before the notifications it caused).
 */
import type { IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from '../../lib/log.js';
import { JOBS_LIMITS, type JobExecution, type JobExecutionSummary, type JobsRejected } from '../../protocol/jobs.js';
import { JobsError } from './errors.js';
import type { StoredExecution } from './model.js';
import { replacePlaceholders } from '../../protocol/presigned-url-placeholder.js';
import {
  JOBS_REQUEST_FILTER,
  clientTokenOf,
  parseDescribe,
  parseGetPending,
  parseJobsTopic,
  parsePayload,
  parseStartNext,
  parseUpdate,
} from './requests.js';
import { executionState, type JobStore, type PendingChange } from './store.js';

export interface JobsService {
  stop(): Promise<void>;
}

export interface JobsServiceOptions {
  /** Connected with the devcloud's own identity, allowed to use every $aws/things/# topic. */
  client: MqttClient;
  store: JobStore;
  /** A presigned GET of bucket/key valid for `seconds` (the S3 stand-in's). */
  presign: (bucket: string, key: string, seconds: number) => Promise<string>;
  log?: Logger;
}

/** An execution frozen when it was read, so a later change does not alter a reply still queued. */
interface ExecutionView {
  execution: StoredExecution;
  secondsBeforeTimedOut: number | undefined;
}

const LIST_NOTIFICATION_MAX = 15;

type Outgoing = () => Promise<{ topic: string; body: object; correlationData?: Buffer | undefined }[]>;

export async function startJobsService(opts: JobsServiceOptions): Promise<JobsService> {
  const { client, store, presign, log } = opts;
  let queue = Promise.resolve();
  let stopped = false;

  const publish = (topic: string, body: object, correlationData?: Buffer): void => {
    const options: IClientPublishOptions = { qos: 1 };
    if (correlationData !== undefined) options.properties = { correlationData };
    client.publish(topic, JSON.stringify(body), options, (err) => {
      if (err) log?.warn({ topic, err: err.message }, 'jobs message not published');
    });
  };

  const send = (outgoing: Outgoing): void => {
    queue = queue
      .then(async () => {
        if (stopped) return;
        for (const m of await outgoing()) publish(m.topic, m.body, m.correlationData);
      })
      .catch((err: unknown) => log?.error({ err: err instanceof Error ? err.message : String(err) }, 'jobs service could not answer'));
  };

  const view = (e: StoredExecution | undefined): ExecutionView | undefined =>
    e === undefined ? undefined : { execution: structuredClone(e), secondsBeforeTimedOut: store.secondsBeforeTimedOut(e) };

  /** The job document as the device receives it: placeholders replaced by presigned GETs made now. */
  const renderDocument = async (jobId: string): Promise<unknown> => {
    const job = store.job(jobId);
    if (!job) return undefined;
    const text = job.presignedUrlConfig
      ? await replacePlaceholders(job.document, (bucket, key) => presign(bucket, key, job.presignedUrlConfig!.expiresInSec))
      : job.document;
    return JSON.parse(text) as unknown;
  };

  const renderExecution = async (v: ExecutionView, withDocument: boolean): Promise<JobExecution> => {
    const e = v.execution;
    return {
      jobId: e.jobId,
      thingName: e.thingName,
      ...(withDocument ? { jobDocument: await renderDocument(e.jobId) } : {}),
      status: e.status,
      ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}),
      queuedAt: store.seconds(e.queuedAt),
      ...(e.startedAt !== undefined ? { startedAt: store.seconds(e.startedAt) } : {}),
      lastUpdatedAt: store.seconds(e.lastUpdatedAt),
      versionNumber: e.versionNumber,
      executionNumber: e.executionNumber,
      ...(v.secondsBeforeTimedOut !== undefined ? { approximateSecondsBeforeTimedOut: v.secondsBeforeTimedOut } : {}),
    };
  };

  const summary = (e: StoredExecution): JobExecutionSummary => ({
    jobId: e.jobId,
    queuedAt: store.seconds(e.queuedAt),
    ...(e.startedAt !== undefined ? { startedAt: store.seconds(e.startedAt) } : {}),
    lastUpdatedAt: store.seconds(e.lastUpdatedAt),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
  });

  /** notify and notify-next for one thing, as its pending list is at this moment. */
  const notifications = (thing: string, change: PendingChange): Outgoing => {
    const base = `$aws/things/${thing}/jobs`;
    const timestamp = store.seconds();
    // A ListNotification holds at most 15 pending executions, IN_PROGRESS ones first (jobs-comm-notifications).
    const { inProgress, queued } = store.pending(thing);
    const listed = [...inProgress, ...queued].slice(0, LIST_NOTIFICATION_MAX);
    const listedInProgress = listed.filter((e) => e.status === 'IN_PROGRESS');
    const listedQueued = listed.filter((e) => e.status === 'QUEUED');
    const jobs = {
      ...(listedInProgress.length > 0 ? { IN_PROGRESS: listedInProgress.map(summary) } : {}),
      ...(listedQueued.length > 0 ? { QUEUED: listedQueued.map(summary) } : {}),
    };
    const next = view(store.next(thing));
    return async () => [
      ...(change.list ? [{ topic: `${base}/notify`, body: { timestamp, jobs } }] : []),
      ...(change.next ? [{ topic: `${base}/notify-next`, body: { timestamp, ...(next ? { execution: await renderExecution(next, true) } : {}) } }] : []),
    ];
  };

  /** Notifications caused while a request runs wait until its reply is queued. */
  let deferred: Outgoing[] | undefined;
  const onPending = (thing: string, change: PendingChange): void => {
    const outgoing = notifications(thing, change);
    if (deferred) deferred.push(outgoing);
    else send(outgoing);
  };

  /** Runs one request against the store now; returns its reply, rendered later. */
  const handle = (topic: string, payload: Buffer): Outgoing | undefined => {
    const request = parseJobsTopic(topic);
    if (!request) return undefined;
    let clientToken: string | undefined;
    const reply = (suffix: 'accepted' | 'rejected', render: () => Promise<object>): Outgoing => async () => {
      const body = await render();
      return [{ topic: `${topic}/${suffix}`, body: { ...body, timestamp: store.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) } }];
    };
    try {
      if (request.operation === 'invalid') throw new JobsError('InvalidTopic', `${topic} does not map to any Jobs API operation`);
      const body = parsePayload(payload);
      clientToken = clientTokenOf(body);
      const { thing } = request;
      switch (request.operation) {
        case 'getPending': {
          parseGetPending(body);
          const { inProgress, queued } = store.pending(thing);
          const result = { inProgressJobs: inProgress.map(summary), queuedJobs: queued.map(summary) };
          return reply('accepted', () => Promise.resolve(result));
        }
        case 'startNext': {
          const v = view(store.startNext(thing, parseStartNext(body)));
          return reply('accepted', async () => (v ? { execution: await renderExecution(v, true) } : {}));
        }
        case 'describe': {
          const req = parseDescribe(body);
          const v = view(store.describe(thing, request.jobId, req.executionNumber));
          return reply('accepted', async () => (v ? { execution: await renderExecution(v, req.includeJobDocument) } : {}));
        }
        case 'update': {
          const req = parseUpdate(body);
          const e = store.update(thing, request.jobId, req);
          const state = executionState(structuredClone(e));
          const jobId = e.jobId;
          return reply('accepted', async () => ({
            ...(req.includeJobExecutionState ? { executionState: state } : {}),
            ...(req.includeJobDocument ? { jobDocument: await renderDocument(jobId) } : {}),
          }));
        }
      }
    } catch (err) {
      const error = err instanceof JobsError ? err : new JobsError('InternalError', 'internal error');
      if (!(err instanceof JobsError)) log?.error({ topic, err: err instanceof Error ? err.message : String(err) }, 'jobs request failed');
      else log?.debug({ topic, code: error.code }, 'jobs request rejected');
      const body: Omit<JobsRejected, 'timestamp'> = { code: error.code, message: error.message, ...(error.executionState ? { executionState: error.executionState } : {}) };
      return reply('rejected', () => Promise.resolve(body));
    }
  };

  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    // AWS IoT's broker refuses a message over 128 KB (PAYLOAD_LIMIT_EXCEEDED, topicdata.html): the
    // Jobs service never sees it, so there is no reply. devcloud's brokers allow more; drop it here.
    if (payload.length > JOBS_LIMITS.messageMaxBytes) {
      if (parseJobsTopic(topic)) log?.warn({ topic, bytes: payload.length }, 'jobs request over the 128 KB message limit dropped (AWS IoT refuses it at the broker)');
      return;
    }
    deferred = [];
    let outgoing: Outgoing | undefined;
    const caused = deferred;
    try {
      outgoing = handle(topic, payload);
    } finally {
      deferred = undefined;
    }
    if (outgoing) {
      const correlationData = packet.properties?.correlationData;
      const answer = outgoing;
      send(async () => (await answer()).map((m) => ({ ...m, correlationData })));
    }
    for (const n of caused) send(n);
  };

  store.on('pending', onPending);
  client.on('message', onMessage);
  try {
    const granted = await client.subscribeAsync(JOBS_REQUEST_FILTER, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) {
      throw new Error(`the broker refused the jobs service's subscription to ${JOBS_REQUEST_FILTER}: connect it with the devcloud identity, whose ACL grants $aws/#`);
    }
  } catch (err) {
    store.off('pending', onPending);
    client.off('message', onMessage);
    throw err;
  }
  log?.info({ filter: JOBS_REQUEST_FILTER }, 'jobs service listening');

  return {
    async stop(): Promise<void> {
      store.off('pending', onPending);
      client.off('message', onMessage);
      await queue;
      stopped = true;
      if (client.connected) {
        await client.unsubscribeAsync(JOBS_REQUEST_FILTER).catch((err: unknown) => {
          log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'jobs service unsubscribe failed');
        });
      }
    },
  };
}
