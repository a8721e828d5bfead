import net from 'node:net';
import convict from 'convict';
import { validate as validateCron, validateDetailed as validateCronDetailed } from 'node-cron';
import { parseSyslogUrl } from '../syslog.js';
import { parseTriggers } from '../features/events/triggers.js';
import { coerceList, coerceNumber, hostList, intRange, isHostName, readableFile, show, type FormatDef } from './format-kinds.js';

// Custom convict formats of the agent config (schema.ts), one table. Each is registered by name so
// that (a) env strings get coerced (convict only coerces through named formats) and (b) the docs
// generator can describe it. Names carry a prefix because convict's format registry is global.
// FormatName is derived from this table, and the schema's leaves are typed with it: a format the
// table does not have is a compile error, not a failure at start.

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

/** Required unless fleet provisioning names the thing (RegisterThing). */
function thingName(doc: string, required: boolean): FormatDef {
  return {
    doc,
    validate: (v) => {
      if (v === null || v === '') {
        if (required) throw new Error('is required: the AWS IoT thing name of this camera (also its MQTT client id)');
        return;
      }
      if (typeof v !== 'string' || !THING_NAME.test(v)) {
        throw new Error(`must be 1-128 characters from a-z A-Z 0-9 : _ - (AWS thing-name rules), got ${show(v)}`);
      }
    },
  };
}
const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;

const FORMATS = {
  'cloudcam-thing-name': thingName('AWS thing name: 1-128 of a-z A-Z 0-9 : _ -', true),
  'cloudcam-optional-thing-name': thingName('AWS thing name, or "" when fleet provisioning names the thing', false),
  'cloudcam-optional-path': {
    doc: 'file path, "" = not set',
    validate: (v) => {
      if (v !== null && typeof v !== 'string') throw new Error(`must be a file path, got ${show(v)}`);
    },
  },
  'cloudcam-optional-template-name': {
    doc: 'fleet provisioning template name: 1-36 of a-z A-Z 0-9 _ -, "" = not set',
    validate: (v) => {
      if (v === '') return;
      if (typeof v !== 'string' || !/^[0-9A-Za-z_-]{1,36}$/.test(v)) {
        throw new Error(`must be 1-36 characters from a-z A-Z 0-9 _ - (AWS provisioning template names), got ${show(v)}`);
      }
    },
  },
  'cloudcam-shadow-name': {
    doc: 'AWS shadow name: 1-64 of a-z A-Z 0-9 : _ -',
    validate: (v) => {
      if (typeof v !== 'string' || !SHADOW_NAME.test(v)) {
        throw new Error(`must be 1-64 characters from a-z A-Z 0-9 : _ - (AWS named-shadow rules), got ${show(v)}`);
      }
    },
  },
  'cloudcam-endpoint': {
    doc: 'host name or IP address, no scheme, port or path',
    validate: (v) => {
      if (v === null || v === '') {
        throw new Error(
          'is required: your AWS IoT data endpoint (`aws iot describe-endpoint --endpoint-type iot:Data-ATS`), e.g. "abc123-ats.iot.eu-west-1.amazonaws.com"',
        );
      }
      if (typeof v !== 'string') throw new Error(`must be a host name, got ${show(v)}`);
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || v.includes('/') || (net.isIP(v) === 0 && v.includes(':'))) {
        throw new Error(`must be only the host name, got ${show(v)}: drop the scheme, path and port (the port goes in iot.port)`);
      }
      if (!isHostName(v)) throw new Error(`is not a valid host name, got ${show(v)}`);
    },
  },
  'cloudcam-port': intRange(1, 65535, 'TCP port 1-65535', ' (AWS IoT: 8883, or 443 with ALPN)'),
  'cloudcam-keepalive': intRange(30, 1200, 'whole seconds 30-1200 (AWS IoT limits)', ' (AWS IoT accepts 30-1200)'),
  'cloudcam-ms': intRange(1, 24 * 3600 * 1000, 'whole milliseconds > 0'),
  'cloudcam-percent': intRange(0, 100, 'whole number 0-100'),
  'cloudcam-bytes': intRange(1, 2 ** 31 - 1, 'whole number of bytes > 0'),
  'cloudcam-count': intRange(1, 1_000_000, 'whole number 1-1000000'),
  'cloudcam-step-timeout': intRange(1, 10_080, 'whole minutes 1-10080 (AWS IoT Jobs step timeout limits)'),
  'cloudcam-boolean': {
    doc: 'true or false',
    validate: (v) => {
      if (typeof v !== 'boolean') throw new Error(`must be true or false, got ${show(v)}`);
    },
    coerce: (raw) => (raw.trim() === 'true' ? true : raw.trim() === 'false' ? false : raw),
  },
  'cloudcam-frames': intRange(0, 1000, 'whole number of frames 0-1000 (0 = off)'),
  'cloudcam-fps': intRange(1, 30, 'whole frames per second 1-30'),
  'cloudcam-event-triggers': {
    doc: 'list of {name, topic, when?, cooldownSeconds, resolution?} (env: JSON)',
    validate: (v) => {
      const parsed = parseTriggers(v);
      if (typeof parsed === 'string') throw new Error(`${parsed}, e.g. [{"name": "motion", "topic": "tns1:VideoSource/MotionAlarm", "when": {"State": "1"}, "cooldownSeconds": 10}]`);
    },
    coerce: (raw) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return raw;
      }
    },
  },
  'cloudcam-mqtt-version': {
    doc: '"5" or "3.1.1"',
    validate: (v) => {
          if (v !== 5 && v !== 4) throw new Error(`must be "5" (MQTT 5) or "3.1.1", got ${show(v)}`);
    },
    coerce: (raw) => ({ '5': 5, '5.0': 5, '3.1.1': 4, '4': 4 })[raw.trim()] ?? raw,
  },
  'cloudcam-ca-file': readableFile(
    'the CA certificate (PEM) that signed the server certificate',
    'For AWS IoT download AmazonRootCA1.pem from https://www.amazontrust.com/repository/AmazonRootCA1.pem; devcloud writes its CA into its state dir.',
  ),
  'cloudcam-cert-file': readableFile(
    "this camera's device certificate (PEM)",
    'Use the certificate AWS IoT issued for this thing (aws iot create-keys-and-certificate, or fleet provisioning); devcloud writes one per camera.',
  ),
  'cloudcam-key-file': readableFile(
    "this camera's private key (PEM)",
    'It is created together with the device certificate and never leaves the camera; copy it next to the certificate.',
  ),
  'cloudcam-camera-url': {
    doc: 'http(s) URL of the VAPIX host, without credentials',
    validate: (v) => {
      if (typeof v !== 'string') throw new Error(`must be a URL such as "http://127.0.0.1", got ${show(v)}`);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw new Error(`is not a URL, e.g. "http://127.0.0.1" (the camera itself) or "http://192.168.0.90"`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`must use http: or https:, got ${show(u.protocol)}`);
      if (u.username || u.password) throw new Error('must not carry credentials: put them in camera.username and camera.password');
    },
  },
  'cloudcam-max-viewers': intRange(1, 10, 'whole number 1-10 (KVS allows 10 viewers on a channel)'),
  'cloudcam-idle-seconds': intRange(1, 3600, 'whole seconds 1-3600'),
  'cloudcam-optional-https-url': {
    doc: 'https:// URL (scheme and host, optional port), "" = not set',
    validate: (v) => {
      if (v === '') return;
      if (typeof v !== 'string') throw new Error(`must be an https:// URL, got ${show(v)}`);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw new Error(`is not a URL, e.g. "https://c2abc.credentials.iot.eu-west-1.amazonaws.com", got ${show(v)}`);
      }
      if (u.protocol !== 'https:') throw new Error(`must use https:, got ${show(u.protocol)}`);
      if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search) throw new Error(`must be only scheme, host and port, got ${show(v)}`);
    },
  },
  'cloudcam-optional-role-alias': {
    doc: 'AWS IoT role alias: 1-128 of a-z A-Z 0-9 = , @ _ -, "" = not set',
    validate: (v) => {
      if (v === '') return;
      if (typeof v !== 'string' || !/^[\w=,@-]{1,128}$/.test(v)) throw new Error(`must be 1-128 characters from a-z A-Z 0-9 = , @ _ - (AWS role-alias rules), got ${show(v)}`);
    },
  },
  'cloudcam-optional-region': {
    doc: 'AWS region such as eu-west-1, "" = derived from iot.endpoint',
    validate: (v) => {
      if (v === '') return;
      if (typeof v !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(v)) throw new Error(`must be an AWS region such as "eu-west-1", got ${show(v)}`);
    },
  },
  'cloudcam-resolution': {
    doc: 'WIDTHxHEIGHT, e.g. 1920x1080',
    validate: (v) => {
      const m = typeof v === 'string' ? /^(\d+)x(\d+)$/.exec(v) : null;
      if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) {
        throw new Error(`must be WIDTHxHEIGHT in pixels, e.g. "1920x1080" (see the camera's supported resolutions), got ${show(v)}`);
      }
    },
  },
  'cloudcam-syslog-url': {
    doc: '"" (off), udp://HOST:PORT or tcp://HOST:PORT',
    validate: (v) => {
      if (typeof v !== 'string') throw new Error(`must be a string such as "udp://10.0.0.5:514", got ${show(v)}`);
      parseSyslogUrl(v);
    },
  },
  'cloudcam-syslog-app-name': {
    doc: '1-48 printable ASCII characters, no spaces',
    validate: (v) => {
      if (typeof v !== 'string' || !/^[\x21-\x7e]{1,48}$/.test(v)) throw new Error(`must be 1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME), got ${show(v)}`);
    },
  },
  'cloudcam-uid-list': {
    doc: 'list of numeric user ids, [] = automatic (env: comma-separated)',
    validate: (v) => {
      if (!Array.isArray(v) || (v as unknown[]).some((u) => typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u > 4294967294)) {
        throw new Error(`must be a list of numeric user ids such as [0, 33] (see \`id -u USER\` on the camera), or [] for automatic, got ${JSON.stringify(v)}`);
      }
    },
    coerce: (raw) => (coerceList(raw) as string[]).map(coerceNumber),
  },
  'cloudcam-upload-hosts': hostList(true, 'list of host, host:port or *.domain (env: comma-separated)'),
  'cloudcam-insecure-hosts': hostList(false, 'list of exact host or host:port (env: comma-separated)'),
  'cloudcam-cron': {
    doc: 'cron expression (5 or 6 fields), "" = off',
    validate: (v) => {
      if (v === '') return;
      if (typeof v !== 'string' || !validateCron(v)) {
        const detail = typeof v === 'string' ? validateCronDetailed(v).errors.map((e) => e.message).join('; ') : 'not a string';
        throw new Error(
          `is not a cron expression (${detail}), got ${show(v)}: use 5 or 6 fields, e.g. "*/15 * * * *" for every 15 minutes, or "" to turn the schedule off`,
        );
      }
    },
  },
  'cloudcam-timezone': {
    doc: 'IANA time zone, "" = the system zone',
    validate: (v) => {
      if (v === '') return;
      try {
        if (typeof v !== 'string') throw new Error('not a string');
        new Intl.DateTimeFormat('en', { timeZone: v });
      } catch {
        throw new Error(`is not a known IANA time zone such as "Europe/Stockholm" or "UTC", got ${show(v)}`);
      }
    },
  },
  'cloudcam-dir': {
    doc: 'directory path',
    validate: (v) => {
      if (typeof v !== 'string' || v.length === 0) throw new Error(`must be a directory path, got ${show(v)}`);
    },
  },
} as const satisfies Record<`cloudcam-${string}`, FormatDef>;

/** The name of a custom format, e.g. 'cloudcam-ms'. */
export type FormatName = keyof typeof FORMATS;

for (const [name, def] of Object.entries(FORMATS) as [FormatName, FormatDef][]) {
  convict.addFormat({ name, validate: def.validate, coerce: def.coerce });
}

/** What a custom format accepts, for docs/config.md; undefined for names that are not ours (convict's own). */
export function formatDoc(name: string): string | undefined {
  return Object.hasOwn(FORMATS, name) ? FORMATS[name as FormatName].doc : undefined;
}
