/**
 * Request expiry is judged by the cloud's clock: the agent runs with its clock shifted (an injected
 * `now`, as a camera without NTP would have), against the real devcloud broker, shadow service and
 * S3 (which judge time by the real clock). The offset comes from the `timestamp` of shadow messages.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { MQTT_MATRIX, nextCloudRequest, putRequest, startTestAgent, startTestDevcloud, waitForReport, type TestAgent, type TestDevcloud } from '../helpers/devcloud.js';

const thing = 'camera-1';
const TEN_MINUTES = 10 * 60_000; // more than the 5-minute presign window

describe.each(MQTT_MATRIX)('expiry by the cloud clock ($label)', ({ broker, mqttVersion }) => {
  let t: TestDevcloud;
  let a: TestAgent | undefined;
  beforeAll(async () => {
    t = await startTestDevcloud({ broker });
  });
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });
  afterAll(async () => {
    await t.cleanup();
  });
  const start = (shiftMs: number): Promise<TestAgent> =>
    startTestAgent(t.dc, thing, (c) => void (c.iot.mqttVersion = mqttVersion), { now: () => new Date(Date.now() + shiftMs) });

  it('a device clock 10 min ahead still uploads a good request, and logs the offset once', async () => {
    const request = nextCloudRequest(t.dc, thing); // the handler answers the agent's `online`
    a = await start(TEN_MINUTES);
    const { id } = await request;
    expect(await waitForReport(t.dc, thing, id)).toMatchObject({ id, status: 'uploaded' });
    const offsets = a.logs.filter((l) => l['event'] === 'clock.offset');
    expect(offsets).toHaveLength(1);
    expect(Math.abs((offsets[0]!['offsetSeconds'] as number) + 600)).toBeLessThanOrEqual(2);
    expect(offsets[0]!['msg']).toContain('ahead of');
  });

  it('a device clock 10 min behind still calls a request expired that S3 would refuse', async () => {
    const online = nextCloudRequest(t.dc, thing);
    a = await start(-TEN_MINUTES);
    const first = await online;
    await waitForReport(t.dc, thing, first.id);
    const stale = { ...first, id: `${first.id}-stale`, expiresAt: new Date(Date.now() - 60_000).toISOString() };
    const report = waitForReport(t.dc, thing, stale.id);
    putRequest(t.dc, thing, stale);
    expect(await report).toMatchObject({ status: 'expired', error: expect.stringMatching(/device clock is off by (599|600|601) s/) as unknown });
  });
});
