import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './explain.js';
import { loadAgentConfig } from './load.js';

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudcam-config-'));
  await fs.mkdir(path.join(dir, 'certs'));
  for (const f of ['ca.pem', 'device.pem', 'device.key']) await fs.writeFile(path.join(dir, 'certs', f), 'PEM\n', { mode: 0o600 });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const minimal = {
  thingName: 'cam-1',
  iot: { endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com', caPath: 'certs/ca.pem', certPath: 'certs/device.pem', keyPath: 'certs/device.key' },
};

async function writeConfig(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadAgentConfig', () => {
  it('applies defaults and resolves file paths relative to the config file', async () => {
    const file = await writeConfig('ok.json', minimal);
    const cfg = loadAgentConfig(file, {});
    expect(cfg.thingName).toBe('cam-1');
    expect(cfg.iot.caPath).toBe(path.join(dir, 'certs/ca.pem'));
    expect(cfg.iot.keyPath).toBe(path.join(dir, 'certs/device.key'));
    expect(cfg.stateDir).toBe(path.join(dir, 'localdata'));
    expect(cfg.iot).toMatchObject({ port: 8883, mqttVersion: 5, keepaliveSeconds: 60, reconnect: { minMs: 1000, maxMs: 120_000 } });
    expect(cfg.shadowName).toBe('cloudcam');
    expect(cfg.log).toEqual({ level: 'info', format: 'syslog-stdout', syslog: { url: '', facility: 'daemon', appName: 'cloudcam' } });
    expect(cfg.schedule).toEqual({ cron: '' });
    expect('timezone' in cfg.schedule).toBe(false);
    expect(cfg.snapshot.allowedUploadHosts).toEqual([]); // startAgent refuses to start with it empty
  });

  it('accepts "3.1.1" and "5" for mqttVersion', async () => {
    const v311 = await writeConfig('v311.json', { ...minimal, iot: { ...minimal.iot, mqttVersion: '3.1.1' } });
    expect(loadAgentConfig(v311, {}).iot.mqttVersion).toBe(4);
    const v5 = await writeConfig('v5.json', { ...minimal, iot: { ...minimal.iot, mqttVersion: '5' } });
    expect(loadAgentConfig(v5, {}).iot.mqttVersion).toBe(5);
  });

  it('lets CLOUDCAM_* variables override the file, coercing numbers, versions and lists', async () => {
    const file = await writeConfig('env.json', { ...minimal, schedule: { cron: '0 * * * *', timezone: 'Europe/Stockholm' } });
    const cfg = loadAgentConfig(file, {
      CLOUDCAM_IOT_PORT: '443',
      CLOUDCAM_IOT_MQTT_VERSION: '3.1.1',
      CLOUDCAM_SNAPSHOT_ALLOWED_UPLOAD_HOSTS: 'bucket.s3.amazonaws.com, *.example.com,127.0.0.1:9000',
      CLOUDCAM_SNAPSHOT_INSECURE_HTTP_UPLOAD_HOSTS: '127.0.0.1:9000',
      CLOUDCAM_CAMERA_PASSWORD: 's3cret',
      CLOUDCAM_LOG_LEVEL: 'debug',
    });
    expect(cfg.iot.port).toBe(443);
    expect(cfg.iot.mqttVersion).toBe(4);
    expect(cfg.snapshot.allowedUploadHosts).toEqual(['bucket.s3.amazonaws.com', '*.example.com', '127.0.0.1:9000']);
    expect(cfg.snapshot.insecureHttpUploadHosts).toEqual(['127.0.0.1:9000']);
    expect(cfg.camera.password).toBe('s3cret');
    expect(cfg.log.level).toBe('debug');
    expect(cfg.schedule).toEqual({ cron: '0 * * * *', timezone: 'Europe/Stockholm' });
  });

  it('works from the environment alone, resolving env paths against the working directory', () => {
    const rel = path.relative(process.cwd(), path.join(dir, 'certs'));
    const cfg = loadAgentConfig(undefined, {
      CLOUDCAM_THING_NAME: 'cam-env',
      CLOUDCAM_IOT_ENDPOINT: '127.0.0.1',
      CLOUDCAM_IOT_CA_PATH: path.join(rel, 'ca.pem'),
      CLOUDCAM_IOT_CERT_PATH: path.join(dir, 'certs', 'device.pem'),
      CLOUDCAM_IOT_KEY_PATH: path.join(rel, 'device.key'),
    });
    expect(cfg.thingName).toBe('cam-env');
    expect(cfg.iot.caPath).toBe(path.join(dir, 'certs', 'ca.pem'));
    expect(cfg.iot.keyPath).toBe(path.join(dir, 'certs', 'device.key'));
  });

  it('reports every problem at once, each naming the key, the bad value and the fix', async () => {
    const file = await writeConfig('bad.json', {
      ...minimal,
      iot: { ...minimal.iot, port: 70000 },
      snapshot: { resolution: 'big', compression: 101 },
      schedule: { cron: '61 * * * *' },
      log: { level: 'verbose' },
    });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    expect(problems).toHaveLength(5);
    const byKey = (k: string): string => problems.find((p) => p.startsWith(`${k} `)) ?? `(no problem for ${k})`;
    expect(byKey('iot.port')).toMatch(/^iot\.port = 70000 \(from .*bad\.json\): must be a whole number from 1 to 65535 .*Fix: set iot\.port in the config file or CLOUDCAM_IOT_PORT/);
    expect(byKey('snapshot.resolution')).toContain('"big"');
    expect(byKey('snapshot.resolution')).toContain('e.g. "1920x1080"');
    expect(byKey('snapshot.compression')).toContain('from 0 to 100');
    expect(byKey('schedule.cron')).toMatch(/"61 \* \* \* \*".*61 is a invalid expression for minute.*"\*\/15 \* \* \* \*"/);
    expect(byKey('log.level')).toMatch(/"verbose".*one of the possible values: \["fatal","error","warn","info","debug","trace"\]/);
  });

  it('names the environment variable when the bad value came from it', async () => {
    const file = await writeConfig('ok2.json', minimal);
    const [p] = problemsOf(() => loadAgentConfig(file, { CLOUDCAM_IOT_KEEPALIVE_SECONDS: 'soon' }));
    expect(p).toMatch(/^iot\.keepaliveSeconds = "soon" \(from environment CLOUDCAM_IOT_KEEPALIVE_SECONDS\): must be a whole number from 30 to 1200/);
  });

  it('rejects unknown keys and suggests the nearest valid one', async () => {
    const file = await writeConfig('typo.json', { ...minimal, thingname: 'x', iot: { ...minimal.iot, prot: 443 }, camera: { pasword: 'p' } });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^thingname: unknown key in .*typo\.json; did you mean thingName\?/),
        expect.stringMatching(/^iot\.prot: unknown key .*did you mean iot\.port\?/),
        expect.stringMatching(/^camera\.pasword: unknown key .*did you mean camera\.password\?/),
      ]),
    );
  });

  it('says which certificate file is missing and how to get it', async () => {
    const file = await writeConfig('nocert.json', { ...minimal, iot: { ...minimal.iot, caPath: 'certs/AmazonRootCA1.pem', certPath: 'missing.pem' } });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('iot.caPath'))).toContain(
      `the CA certificate (PEM) that signed the server certificate not found at ${path.join(dir, 'certs/AmazonRootCA1.pem')}. For AWS IoT download AmazonRootCA1.pem`,
    );
    expect(problems.find((p) => p.startsWith('iot.certPath'))).toContain(`device certificate (PEM) not found at ${path.join(dir, 'missing.pem')}`);
  });

  it('with a claim certificate, needs no thing name or device certificate and puts the identity in the state dir', async () => {
    const file = await writeConfig('claim.json', {
      iot: { endpoint: minimal.iot.endpoint, caPath: 'certs/ca.pem' },
      provisioning: { claimCertPath: 'certs/device.pem', claimKeyPath: 'certs/device.key', templateName: 'Cloudcam-Fleet' },
      stateDir: 'state',
    });
    const config = loadAgentConfig(file, {});
    expect(config.thingName).toBe('');
    expect(config.iot.certPath).toBe(path.join(dir, 'state', 'identity', 'device.crt'));
    expect(config.iot.keyPath).toBe(path.join(dir, 'state', 'identity', 'device.key'));
    expect(config.provisioning.claimCertPath).toBe(path.join(dir, 'certs/device.pem'));
  });

  it('with a claim certificate, names a missing claim key and template', async () => {
    const file = await writeConfig('claim-bad.json', {
      iot: { endpoint: minimal.iot.endpoint, caPath: 'certs/ca.pem' },
      provisioning: { claimCertPath: 'certs/device.pem', claimKeyPath: 'certs/nope.key' },
    });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    expect(problems.find((p) => p.startsWith('provisioning.claimKeyPath'))).toContain('missing or unreadable');
    expect(problems.find((p) => p.startsWith('provisioning.templateName'))).toContain('ProvisioningTemplateName');
  });

  it('lists required keys that are missing', () => {
    const problems = problemsOf(() => loadAgentConfig(undefined, {}));
    const keys = problems.map((p) => p.split(' ')[0]);
    expect(keys.sort()).toEqual(['iot.caPath', 'iot.certPath', 'iot.endpoint', 'iot.keyPath', 'thingName']);
    expect(problems.find((p) => p.startsWith('iot.endpoint'))).toContain('describe-endpoint --endpoint-type iot:Data-ATS');
  });

  it('never echoes the camera password or URL credentials', async () => {
    const file = await writeConfig('secret.json', { ...minimal, camera: { password: 98765, url: 'http://root:hunter2@10.0.0.5' } });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    const text = problems.join('\n');
    expect(problems.some((p) => p.startsWith('camera.password'))).toBe(true);
    expect(problems.find((p) => p.startsWith('camera.url'))).toContain('put them in camera.username and camera.password');
    expect(text).not.toContain('98765');
    expect(text).not.toContain('hunter2');
  });

  it('explains an endpoint written as a URL, a bad thing name and wildcard insecure hosts', async () => {
    const file = await writeConfig('misc.json', {
      ...minimal,
      thingName: 'cam 1',
      iot: { ...minimal.iot, endpoint: 'mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883' },
      snapshot: { insecureHttpUploadHosts: ['*.local'], allowedUploadHosts: ['https://bucket.s3.amazonaws.com/x', '*.com'] },
    });
    const problems = problemsOf(() => loadAgentConfig(file, {}));
    expect(problems.find((p) => p.startsWith('iot.endpoint'))).toContain('drop the scheme, path and port (the port goes in iot.port)');
    expect(problems.find((p) => p.startsWith('thingName'))).toContain('AWS thing-name rules');
    expect(problems.find((p) => p.startsWith('snapshot.insecureHttpUploadHosts'))).toContain('wildcards are not allowed here');
    expect(problems.find((p) => p.startsWith('snapshot.allowedUploadHosts'))).toContain('write only the host');
  });

  it('reports a section written as a scalar once, and reconnect bounds in the wrong order', async () => {
    const scalar = await writeConfig('scalar.json', { ...minimal, camera: 'http://cam' });
    expect(problemsOf(() => loadAgentConfig(scalar, {}))).toEqual([
      expect.stringMatching(/^camera: must be an object holding camera\.\* keys, got "http:\/\/cam"/),
    ]);
    const order = await writeConfig('order.json', { ...minimal, iot: { ...minimal.iot, reconnect: { minMs: 5000, maxMs: 100 } } });
    expect(problemsOf(() => loadAgentConfig(order, {}))).toEqual([expect.stringContaining('iot.reconnect.maxMs (100) is below iot.reconnect.minMs (5000)')]);
  });

  it('explains unreadable, missing and malformed config files', async () => {
    expect(problemsOf(() => loadAgentConfig(path.join(dir, 'nope.json'), {}))[0]).toMatch(/nope\.json does not exist: create it/);
    const broken = await writeConfig('broken.json', '{"thingName": ');
    expect(problemsOf(() => loadAgentConfig(broken, {}))[0]).toMatch(/broken\.json is not valid JSON/);
    const arr = await writeConfig('array.json', '[]');
    expect(problemsOf(() => loadAgentConfig(arr, {}))[0]).toMatch(/must hold one JSON object/);
  });
});

describe('log.syslog', () => {
  it('takes a collector URL from the file or CLOUDCAM_LOG_SYSLOG_URL, and explains a bad one', async () => {
    const file = await writeConfig('syslog.json', { ...minimal, log: { syslog: { url: 'tcp://10.0.0.5:514', facility: 'local4' } } });
    expect(loadAgentConfig(file, {}).log.syslog).toEqual({ url: 'tcp://10.0.0.5:514', facility: 'local4', appName: 'cloudcam' });
    expect(loadAgentConfig(file, { CLOUDCAM_LOG_SYSLOG_URL: 'udp://[::1]:514' }).log.syslog.url).toBe('udp://[::1]:514');
    const p = problemsOf(() => loadAgentConfig(file, { CLOUDCAM_LOG_SYSLOG_URL: '10.0.0.5:514' }));
    expect(p[0]).toMatch(/^log\.syslog\.url = "10\.0\.0\.5:514" \(from environment CLOUDCAM_LOG_SYSLOG_URL\): must be "" \(off\), udp:\/\/HOST:PORT or tcp:\/\/HOST:PORT/);
  });
});
