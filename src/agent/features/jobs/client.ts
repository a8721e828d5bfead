import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { jobsTopics, replyTopics, JOBS_LIMITS, type JobExecution, type JobExecutionState, type JobExecutionSummary, type JobsTopics, type StartNextRequest, type UpdateRequest } from '../../../protocol/jobs.js';
import { parseOptionalExecution, parseExecutionState, parsePendingJobs, parseRejected, type RejectedReply } from '../../../protocol/jobs-replies.js';
import type { MqttLink } from '../../../protocol/shadow-client.js';

/**
 * The device side of the AWS IoT Jobs MQTT API for one thing: requests correlated by clientToken
 * (each reply must come on the accepted/rejected topic of its own request), `notify-next` as an
 * event. Only this thing's reserved topics are listened to, and an execution naming another thing is
 * ignored, so a misrouted or forged message cannot start work here. Transport-agnostic like the
 * shadow client: publish/subscribe and a message event.
 */
export interface JobsLink extends MqttLink {
  unsubscribe(topics: string[]): Promise<void>;
}

/** A `rejected` reply: AWS's error code, its message and, for some codes, the execution's current state. */
export class JobsRejectedError extends Error {
  override readonly name = 'JobsRejectedError';
  readonly code: RejectedReply['code'];
  readonly executionState: JobExecutionState | undefined;
  constructor(reply: RejectedReply) {
    super(`${reply.code}: ${reply.message}`);
    this.code = reply.code;
    this.executionState = reply.executionState;
  }
}

export class JobsTimeoutError extends Error {
  override readonly name = 'JobsTimeoutError';
}

export interface JobsClientEvents {
  /** The next pending execution changed (undefined: nothing pending). */
  'notify-next': [execution: JobExecution | undefined];
  /** A message on our topics that was not acted on, and why (logged by the feature). */
  ignored: [topic: string, why: string];
}

interface Pending {
  accepted: string;
  rejected: string;
  resolve(doc: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class JobsClient extends EventEmitter<JobsClientEvents> {
  readonly topics: JobsTopics;
  private readonly pending = new Map<string, Pending>();
  /** Every topic we subscribed to: messages on any other topic are not ours. */
  private readonly listening = new Set<string>();
  private readonly watched = new Set<string>();
  private readonly tokenPrefix = randomBytes(4).toString('hex');
  private counter = 0;
  private closed = false;
  private readonly onMessage = (topic: string, payload: Buffer): void => this.receive(topic, payload);

  constructor(
    private readonly link: JobsLink,
    private readonly thing: string,
    private readonly timeoutMs = 10_000,
  ) {
    super();
    this.topics = jobsTopics(thing);
    link.on('message', this.onMessage);
  }

  /** notify-next and the replies of get-pending and start-next, by name (no wildcards). Call on every connect. */
  async subscribe(): Promise<void> {
    const t = this.topics;
    await this.listen([t.notifyNext, ...this.replies(t.getPending), ...this.replies(t.startNext)]);
    // A clean session lost the per-job subscriptions too.
    for (const jobId of this.watched) await this.listen([...this.replies(t.update(jobId)), ...this.replies(t.describe(jobId))]);
  }

  /** Subscribes to one job's update and describe replies (before the first request about it). */
  async watch(jobId: string): Promise<void> {
    const t = this.topics;
    this.watched.add(jobId);
    await this.listen([...this.replies(t.update(jobId)), ...this.replies(t.describe(jobId))]);
  }

  /** Done with a job: its reply topics are dropped (best effort; the session forgets them anyway). */
  async unwatch(jobId: string): Promise<void> {
    if (!this.watched.delete(jobId)) return;
    const t = this.topics;
    const topics = [...this.replies(t.update(jobId)), ...this.replies(t.describe(jobId))];
    for (const topic of topics) this.listening.delete(topic);
    await this.link.unsubscribe(topics).catch(() => undefined);
  }

  async getPending(): Promise<{ inProgressJobs: JobExecutionSummary[]; queuedJobs: JobExecutionSummary[] }> {
    const reply = await this.request(this.topics.getPending, {});
    const parsed = parsePendingJobs(reply);
    if (!parsed.ok) throw new Error(`get pending jobs: ${parsed.error}`);
    return parsed.value;
  }

  /** Starts (or returns the already started) next pending execution; undefined when none is pending. */
  async startNext(req: Omit<StartNextRequest, 'clientToken'>): Promise<JobExecution | undefined> {
    return this.execution(await this.request(this.topics.startNext, req), 'start-next');
  }

  /** The execution with its document; undefined if the reply carries none. */
  async describe(jobId: string): Promise<JobExecution | undefined> {
    return this.execution(await this.request(this.topics.describe(jobId), { includeJobDocument: true }), `describe ${jobId}`);
  }

  /** Rejects with JobsRejectedError on a rejected reply; resolves with the new state when the reply has it. */
  async update(jobId: string, req: Omit<UpdateRequest, 'clientToken'>): Promise<JobExecutionState | undefined> {
    const reply = await this.request(this.topics.update(jobId), { ...req, includeJobExecutionState: true });
    return parseExecutionState(reply['executionState']);
  }

  close(): void {
    this.closed = true;
    this.link.off('message', this.onMessage);
    for (const [token, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('jobs client closed'));
      this.pending.delete(token);
    }
  }

  private replies(topic: string): [string, string] {
    const r = replyTopics(topic);
    return [r.accepted, r.rejected];
  }

  private async listen(topics: string[]): Promise<void> {
    await this.link.subscribe(topics, 1);
    for (const t of topics) this.listening.add(t);
  }

  private execution(reply: Record<string, unknown>, what: string): JobExecution | undefined {
    const parsed = parseOptionalExecution(reply, this.thing);
    if (!parsed.ok) throw new Error(`${what}: ${parsed.error}`);
    return parsed.value;
  }

  private request(topic: string, body: object): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error('jobs client closed')); // its reply could never arrive
    this.counter += 1;
    const clientToken = `${this.tokenPrefix}-${this.counter}`.slice(0, JOBS_LIMITS.clientTokenMaxLength);
    const { accepted, rejected } = replyTopics(topic);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(clientToken);
        reject(new JobsTimeoutError(`no reply from AWS IoT Jobs on ${topic} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(clientToken, { accepted, rejected, resolve, reject, timer });
      this.link.publish(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 }).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(clientToken);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  private receive(topic: string, payload: Buffer): void {
    if (!this.listening.has(topic)) return; // another feature's topic, or another thing's
    // Nothing AWS IoT sends is larger; a bigger one is not worth parsing (a forged multi-MB document).
    if (payload.length > JOBS_LIMITS.messageMaxBytes) return void this.emit('ignored', topic, `${payload.length} bytes, more than AWS IoT's ${JOBS_LIMITS.messageMaxBytes}-byte message limit`);
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      this.emit('ignored', topic, 'not JSON');
      return;
    }
    if (!isObject(doc)) return void this.emit('ignored', topic, 'not a JSON object');
    if (topic === this.topics.notifyNext) {
      const parsed = parseOptionalExecution(doc, this.thing);
      if (!parsed.ok) return void this.emit('ignored', topic, parsed.error);
      this.emit('notify-next', parsed.value);
      return;
    }
    const token = doc['clientToken'];
    const p = typeof token === 'string' ? this.pending.get(token) : undefined;
    if (!p) return; // a reply to another client of this thing, or one that timed out
    if (topic !== p.accepted && topic !== p.rejected) return void this.emit('ignored', topic, 'a reply with our clientToken on another request topic');
    this.pending.delete(token as string);
    clearTimeout(p.timer);
    if (topic === p.rejected) p.reject(new JobsRejectedError(parseRejected(doc)));
    else p.resolve(doc);
  }
}
