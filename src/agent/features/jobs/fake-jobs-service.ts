/**
 * Test support only (the unit tests beside this file; nothing in the agent imports it): a small
 * in-memory AWS IoT Jobs service for one thing, behind the same link the jobs client uses in the
 * agent. It keeps AWS's documented rules that the client depends on: replies only reach subscribed
 * topics, start-next returns the IN_PROGRESS execution before starting a QUEUED one, every update
 * bumps the version and is refused with VersionMismatch (with the current state) at the wrong
 * expectedVersion, statusDetails beyond AWS's limits are refused (InvalidRequest), a terminal
 * execution refuses updates (InvalidStateTransition, with its state) and describes
 * (TerminalStateReached), notify-next is published whenever the next pending execution changes.
 * devcloud's Jobs service is the full stand-in (docs/protocol-jobs.md); this is the fast one.
 */
import { EventEmitter } from 'node:events';
import { jobsTopics, replyTopics, statusDetailsProblem, TERMINAL_STATUSES, type JobExecution, type JobExecutionStatus, type StatusDetails } from '../../../protocol/jobs.js';
import type { JobsLink } from './client.js';

interface Execution {
  jobId: string;
  document: unknown;
  status: JobExecutionStatus;
  statusDetails: StatusDetails;
  versionNumber: number;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  stepTimeoutInMinutes?: number;
}

export interface FakeRequest {
  topic: string;
  body: Record<string, unknown>;
}

export class FakeJobsService {
  readonly requests: FakeRequest[] = [];
  readonly executions = new Map<string, Execution>();
  /** Return true to swallow the reply (the request still applies), as a lost message would. */
  dropReply: (req: FakeRequest) => boolean = () => false;
  private readonly subscribed = new Set<string>();
  private readonly bus = new EventEmitter<{ message: [topic: string, payload: Buffer] }>();
  private readonly topics;
  private lastNext: string | undefined;
  private clock = 1_700_000_000;
  connected = true;

  constructor(readonly thing: string) {
    this.topics = jobsTopics(thing);
  }

  /** The agent's side of the wire. */
  readonly link: JobsLink = {
    publish: async (topic, payload) => {
      if (!this.connected) throw new Error('not connected');
      const body = JSON.parse(payload) as Record<string, unknown>;
      const req = { topic, body };
      this.requests.push(req);
      setImmediate(() => this.handle(req));
    },
    subscribe: async (topics) => {
      for (const t of topics) this.subscribed.add(t);
    },
    unsubscribe: async (topics) => {
      for (const t of topics) this.subscribed.delete(t);
    },
    on: (_event, listener) => this.bus.on('message', listener),
    off: (_event, listener) => this.bus.off('message', listener),
  };

  createJob(jobId: string, document: unknown): void {
    this.executions.set(jobId, { jobId, document, status: 'QUEUED', statusDetails: {}, versionNumber: 1, queuedAt: this.tick(), lastUpdatedAt: this.clock });
    this.notifyNextIfChanged();
  }

  /** An operator's cancel (or another writer): the execution goes terminal and its version moves on. */
  setStatus(jobId: string, status: JobExecutionStatus, details?: StatusDetails): void {
    const e = this.executions.get(jobId)!;
    e.status = status;
    if (details) e.statusDetails = details;
    e.versionNumber += 1;
    e.lastUpdatedAt = this.tick();
    this.notifyNextIfChanged();
  }

  /** Delivers a message as the broker would: only to subscribed topics. */
  deliver(topic: string, doc: unknown): void {
    if (this.subscribed.has(topic)) this.bus.emit('message', topic, Buffer.from(JSON.stringify(doc)));
  }

  isSubscribed(topic: string): boolean {
    return this.subscribed.has(topic);
  }

  requestsTo(suffix: string): FakeRequest[] {
    return this.requests.filter((r) => r.topic.endsWith(suffix));
  }

  private tick(): number {
    this.clock += 1;
    return this.clock;
  }

  private next(): Execution | undefined {
    const all = [...this.executions.values()];
    return all.find((e) => e.status === 'IN_PROGRESS') ?? all.find((e) => e.status === 'QUEUED');
  }

  private notifyNextIfChanged(): void {
    const next = this.next();
    if (next?.jobId === this.lastNext) return;
    this.lastNext = next?.jobId;
    this.deliver(this.topics.notifyNext, { timestamp: this.clock, ...(next ? { execution: this.view(next, true) } : {}) });
  }

  view(e: Execution, withDocument: boolean): JobExecution {
    return {
      jobId: e.jobId,
      thingName: this.thing,
      status: e.status,
      statusDetails: e.statusDetails,
      queuedAt: e.queuedAt,
      lastUpdatedAt: e.lastUpdatedAt,
      versionNumber: e.versionNumber,
      executionNumber: 1,
      ...(e.startedAt !== undefined ? { startedAt: e.startedAt } : {}),
      ...(withDocument ? { jobDocument: e.document } : {}),
    };
  }

  private handle(req: FakeRequest): void {
    const { topic, body } = req;
    const token = typeof body['clientToken'] === 'string' ? { clientToken: body['clientToken'] } : {};
    const reply = (ok: boolean, doc: Record<string, unknown>): void => {
      if (this.dropReply(req)) return;
      const r = replyTopics(topic);
      this.deliver(ok ? r.accepted : r.rejected, { ...doc, timestamp: this.clock, ...token });
    };
    const reject = (code: string, message: string, e?: Execution): void =>
      reply(false, { code, message, ...(e ? { executionState: { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber } } : {}) });
    const summary = (e: Execution): Record<string, unknown> => ({ jobId: e.jobId, queuedAt: e.queuedAt, lastUpdatedAt: e.lastUpdatedAt, versionNumber: e.versionNumber, executionNumber: 1 });
    const t = this.topics;
    if (topic === t.getPending) {
      const all = [...this.executions.values()];
      reply(true, { inProgressJobs: all.filter((e) => e.status === 'IN_PROGRESS').map(summary), queuedJobs: all.filter((e) => e.status === 'QUEUED').map(summary) });
      return;
    }
    if (topic === t.startNext) {
      const e = this.next();
      if (!e) return reply(true, {});
      if (e.status === 'QUEUED') {
        e.status = 'IN_PROGRESS';
        e.startedAt = this.tick();
        e.versionNumber += 1;
        if (body['statusDetails']) e.statusDetails = body['statusDetails'] as StatusDetails;
      }
      if (typeof body['stepTimeoutInMinutes'] === 'number') e.stepTimeoutInMinutes = body['stepTimeoutInMinutes'];
      reply(true, { execution: this.view(e, true) });
      this.notifyNextIfChanged();
      return;
    }
    const m = /^\$aws\/things\/[^/]+\/jobs\/([^/]+)\/(get|update)$/.exec(topic);
    const e = m ? this.executions.get(m[1]!) : undefined;
    if (!m) return;
    if (!e) return reject('ResourceNotFound', `job execution ${m[1]} not found`);
    if (m[2] === 'get') {
      // AWS's error list: TerminalStateReached "occurs when a command to describe a job is performed on a job that is in a terminal state".
      if (TERMINAL_STATUSES.has(e.status)) return reject('TerminalStateReached', `job execution ${e.jobId} is in a terminal state`);
      return reply(true, { execution: this.view(e, body['includeJobDocument'] !== false) });
    }
    const problem = statusDetailsProblem(body['statusDetails']);
    if (problem) return reject('InvalidRequest', problem);
    if (TERMINAL_STATUSES.has(e.status)) return reject('InvalidStateTransition', `job execution ${e.jobId} is ${e.status}`, e);
    if (typeof body['expectedVersion'] === 'number' && body['expectedVersion'] !== e.versionNumber) return reject('VersionMismatch', `expected version ${String(body['expectedVersion'])}, current ${e.versionNumber}`, e);
    e.status = body['status'] as JobExecutionStatus;
    if (body['statusDetails']) e.statusDetails = body['statusDetails'] as StatusDetails;
    e.versionNumber += 1;
    e.lastUpdatedAt = this.tick();
    reply(true, body['includeJobExecutionState'] ? { executionState: { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber } } : {});
    this.notifyNextIfChanged();
  }
}
