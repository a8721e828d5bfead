/**
 * A device speaking the AWS IoT Jobs MQTT API with nothing but mqtt.js (no agent code): the independent
 * client of devcloud's Jobs suites.
 */
import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { DevcloudInfo } from '../../src/devcloud/info.js';

const WAIT_MS = 15_000;

export type Body = Record<string, unknown> & { clientToken?: string; code?: string; execution?: Record<string, unknown> };

export class JobsDevice {
  readonly messages: { topic: string; body: Body; at: number }[] = [];
  private readonly listeners = new Set<() => void>();
  private tokens = 0;

  private constructor(
    readonly client: MqttClient,
    readonly thing: string,
  ) {
    client.on('message', (topic, payload) => {
      // Subscribed to jobs/#, the device also hears its own requests, some deliberately not JSON.
      let body: Body;
      try {
        body = JSON.parse(payload.toString('utf8')) as Body;
      } catch {
        return;
      }
      this.messages.push({ topic, body, at: Date.now() });
      for (const l of this.listeners) l();
    });
  }

  static async connect(info: DevcloudInfo, thing: string, protocolVersion: 4 | 5, clientId = thing): Promise<JobsDevice> {
    const paths = info.devices[thing]!;
    const client = await mqtt.connectAsync(info.mqtt.url, {
      clientId,
      protocolVersion,
      ca: await readFile(info.caPath),
      cert: await readFile(paths.certPath),
      key: await readFile(paths.keyPath),
      rejectUnauthorized: true,
      reconnectPeriod: 0,
    });
    const device = new JobsDevice(client, thing);
    const granted = await client.subscribeAsync(`$aws/things/${thing}/jobs/#`, { qos: 1 });
    if (granted[0]?.qos !== 1) throw new Error(`the broker refused ${thing} its own jobs topics`);
    return device;
  }

  get base(): string {
    return `$aws/things/${this.thing}/jobs`;
  }

  mark(): number {
    return this.messages.length;
  }

  /** The first message on `topic` from index `since` on that satisfies `match`. */
  waitFor(topic: string, since: number, match: (b: Body) => boolean = () => true): Promise<{ body: Body; at: number }> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.messages.slice(since).find((m) => m.topic === topic && match(m.body));
        if (!found) return false;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no message on ${topic} within ${WAIT_MS} ms; got ${this.messages.slice(since).map((m) => m.topic).join(', ')}`));
      }, WAIT_MS);
      this.listeners.add(listener);
      check();
    });
  }

  /** Publishes a request and resolves with its reply (matched by clientToken). */
  async request(path: string, body: Record<string, unknown> = {}): Promise<{ kind: 'accepted' | 'rejected'; body: Body }> {
    const clientToken = typeof body.clientToken === 'string' ? body.clientToken : `t-${++this.tokens}`;
    const topic = `${this.base}/${path}`;
    const since = this.mark();
    const reply = Promise.race([
      this.waitFor(`${topic}/accepted`, since, (b) => b.clientToken === clientToken).then((m) => ({ kind: 'accepted' as const, body: m.body })),
      this.waitFor(`${topic}/rejected`, since, (b) => b.clientToken === clientToken).then((m) => ({ kind: 'rejected' as const, body: m.body })),
    ]);
    await this.client.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    return reply;
  }

  async raw(path: string, payload: string | Buffer): Promise<Body> {
    const topic = `${this.base}/${path}`;
    const since = this.mark();
    const reply = this.waitFor(`${topic}/rejected`, since);
    await this.client.publishAsync(topic, payload, { qos: 1 });
    return (await reply).body;
  }

  end(): Promise<void> {
    return this.client.endAsync();
  }
}

