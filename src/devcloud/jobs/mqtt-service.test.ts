/**
 * The Jobs service's own front-end checks, against a stand-in MQTT client (the service against real
 * brokers and devices is test/integration/jobs-service.test.ts).
 */
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startJobsService, type JobsService } from './mqtt-service.js';
import { JobStore } from './store.js';

class RecordingClient extends EventEmitter {
  connected = true;
  readonly published: { topic: string; body: Record<string, unknown> }[] = [];
  subscribeAsync = async (): Promise<{ qos: number }[]> => [{ qos: 1 }];
  unsubscribeAsync = async (): Promise<void> => undefined;
  publish(topic: string, payload: string, _opts: unknown, cb?: (err?: Error) => void): void {
    this.published.push({ topic, body: JSON.parse(payload) as Record<string, unknown> });
    cb?.();
  }
}

let service: JobsService | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

async function start(): Promise<{ client: RecordingClient; store: JobStore; settled: () => Promise<void> }> {
  const client = new RecordingClient();
  const store = new JobStore();
  service = await startJobsService({ client: client as unknown as MqttClient, store, presign: () => Promise.resolve('https://example.invalid/') });
  const settled = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return { client, store, settled };
}

describe('devcloud Jobs service front end', () => {
  it('drops a request over the 128 KB message limit unanswered and unapplied, as AWS IoT refuses it at the broker', async () => {
    const { client, store, settled } = await start();
    store.createJob({ jobId: 'j', targets: ['camera-1'], document: '{"operation":"x"}' });
    await settled();
    client.published.length = 0;
    const big = JSON.stringify({ status: 'SUCCEEDED', clientToken: 't', statusDetails: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])) });
    expect(big.length).toBeGreaterThan(128 * 1024);
    client.emit('message', '$aws/things/camera-1/jobs/j/update', Buffer.from(big), {});
    await settled();
    expect(client.published).toEqual([]);
    expect(store.executionsOf('j')[0]?.status).toBe('QUEUED');
    // A request within the limit is answered as usual.
    client.emit('message', '$aws/things/camera-1/jobs/j/update', Buffer.from(JSON.stringify({ status: 'IN_PROGRESS', clientToken: 't2' })), {});
    await settled();
    expect(client.published.map((p) => p.topic)).toContain('$aws/things/camera-1/jobs/j/update/accepted');
  });
});
