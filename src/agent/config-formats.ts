import fs from 'node:fs';
import net from 'node:net';
import convict from 'convict';
import { parseSyslogUrl } from './syslog.js';
import { validate as validateCron, validateDetailed as validateCronDetailed } from 'node-cron';

// Custom convict formats of the agent config (src/agent/config.ts). Each is registered by name so
// that (a) env strings get coerced (convict only coerces through named formats) and (b) the docs
// generator can describe it. Names carry a prefix because convict's format registry is global.

/** What each custom format accepts, for docs/config.md. */
export const FORMAT_DOCS: Record<string, string> = {};

function addFormat(name: string, doc: string, validate: (value: unknown) => void, coerce?: (raw: string) => unknown): void {
  FORMAT_DOCS[name] = doc;
  convict.addFormat({ name, validate, ...(coerce ? { coerce } : {}) });
}

export const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Env values arrive as strings; numbers written as strings become numbers, anything else stays for the error. */
const coerceNumber = (raw: string): unknown => (/^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw);
/** A comma-separated env value becomes a list; '' is the empty list. */
const coerceList = (raw: string): unknown =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function intRange(name: string, min: number, max: number, doc: string, hint = ''): void {
  addFormat(
    name,
    doc,
    (v) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new Error(`must be a whole number from ${min} to ${max}${hint}, got ${show(v)}`);
      }
    },
    coerceNumber,
  );
}

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;
const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function isHostName(s: string): boolean {
  if (net.isIP(s) !== 0) return true;
  return s.length <= 253 && s.split('.').every((label) => HOST_LABEL.test(label));
}

/** host, host:port or [v6]:port; returns the host part or undefined. */
function hostOfEntry(entry: string): string | undefined {
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(entry);
  if (v6) return net.isIPv6(v6[1] ?? '') && validPort(v6[2]) ? (v6[1] ?? '') : undefined;
  if (net.isIPv6(entry)) return entry;
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!m || !validPort(m[2])) return undefined;
  return isHostName(m[1] ?? '') ? m[1] : undefined;
}

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * AWS's shared service domains: every account's buckets (`*.s3.{region}.amazonaws.com`), EC2 public
 * names (`ec2-...compute.amazonaws.com`) and API Gateway (`*.execute-api...`) live under them, so a
 * wildcard over one lets a request upload to anyone's endpoint. Exact hosts only there.
 */
const SHARED_AWS_DOMAIN = /(^|\.)amazonaws\.com(\.cn)?$|(^|\.)amazonaws-us-gov\.com$|(^|\.)on\.aws$/i;

function hostListFormat(name: string, allowWildcard: boolean, doc: string): void {
  addFormat(
    name,
    doc,
    (v) => {
      if (!Array.isArray(v)) throw new Error(`must be a list of host names, e.g. ["bucket.s3.eu-west-1.amazonaws.com"], got ${show(v)}`);
      for (const entry of v as unknown[]) {
        if (typeof entry !== 'string' || entry.length === 0) throw new Error(`entries must be non-empty strings, got ${show(entry)}`);
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || entry.includes('/')) {
          throw new Error(`entry ${show(entry)} is a URL: write only the host (and :port if not the default), e.g. "${safeHost(entry)}"`);
        }
        if (entry.startsWith('*.')) {
          if (!allowWildcard) throw new Error(`entry ${show(entry)}: wildcards are not allowed here; list each exact host`);
          const suffix = entry.slice(2);
          if (!suffix.includes('.') || !isHostName(suffix) || net.isIP(suffix) !== 0) {
            throw new Error(`entry ${show(entry)}: a wildcard needs a domain of at least two labels after "*.", e.g. "*.uploads.example.com"`);
          }
          if (SHARED_AWS_DOMAIN.test(suffix)) {
            throw new Error(
              `entry ${show(entry)} matches hosts of every AWS account (other accounts' buckets, EC2 hosts, API Gateway): ` +
                'list your own bucket\'s host instead, e.g. "{bucket}.s3.{region}.amazonaws.com" (the stack output UploadHost)',
            );
          }
          continue;
        }
        if (hostOfEntry(entry) === undefined) {
          throw new Error(`entry ${show(entry)} is not a host or host:port${allowWildcard ? ' or *.domain' : ''}`);
        }
      }
    },
    coerceList,
  );
}

function safeHost(entry: string): string {
  try {
    return new URL(entry).host || 'host.example.com';
  } catch {
    return 'host.example.com';
  }
}

/**
 * A file the agent reads at connect time. Missing or unreadable files are reported here, before
 * the first connect, with what the file is and how to get it.
 */
function readableFileFormat(name: string, what: string, howToProvide: string): void {
  addFormat(name, `path of ${what} (must exist and be readable)`, (v) => {
    if (v === null || v === undefined || v === '') throw new Error(`is required: the path of ${what}. ${howToProvide}`);
    if (typeof v !== 'string') throw new Error(`must be a file path, got ${show(v)}`);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(v);
    } catch {
      throw new Error(`${what} not found at ${v}. ${howToProvide}`);
    }
    if (!stat.isFile()) throw new Error(`${v} is not a file; it must be ${what}. ${howToProvide}`);
    try {
      fs.accessSync(v, fs.constants.R_OK);
    } catch {
      throw new Error(`${what} at ${v} is not readable by this user (uid ${process.getuid?.() ?? '?'}); fix its owner or mode`);
    }
  });
}

addFormat('cloudcam-thing-name', 'AWS thing name: 1-128 of a-z A-Z 0-9 : _ -', (v) => {
  if (v === null || v === '') throw new Error('is required: the AWS IoT thing name of this camera (also its MQTT client id)');
  if (typeof v !== 'string' || !THING_NAME.test(v)) {
    throw new Error(`must be 1-128 characters from a-z A-Z 0-9 : _ - (AWS thing-name rules), got ${show(v)}`);
  }
});
addFormat('cloudcam-optional-thing-name', 'AWS thing name, or "" when fleet provisioning names the thing', (v) => {
  if (v === null || v === '') return;
  if (typeof v !== 'string' || !THING_NAME.test(v)) {
    throw new Error(`must be 1-128 characters from a-z A-Z 0-9 : _ - (AWS thing-name rules), got ${show(v)}`);
  }
});
addFormat('cloudcam-optional-path', 'file path, "" = not set', (v) => {
  if (v !== null && typeof v !== 'string') throw new Error(`must be a file path, got ${show(v)}`);
});
addFormat('cloudcam-optional-template-name', 'fleet provisioning template name: 1-36 of a-z A-Z 0-9 _ -, "" = not set', (v) => {
  if (v === '') return;
  if (typeof v !== 'string' || !/^[0-9A-Za-z_-]{1,36}$/.test(v)) {
    throw new Error(`must be 1-36 characters from a-z A-Z 0-9 _ - (AWS provisioning template names), got ${show(v)}`);
  }
});
addFormat('cloudcam-shadow-name', 'AWS shadow name: 1-64 of a-z A-Z 0-9 : _ -', (v) => {
  if (typeof v !== 'string' || !SHADOW_NAME.test(v)) {
    throw new Error(`must be 1-64 characters from a-z A-Z 0-9 : _ - (AWS named-shadow rules), got ${show(v)}`);
  }
});
addFormat('cloudcam-endpoint', 'host name or IP address, no scheme, port or path', (v) => {
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
});
intRange('cloudcam-port', 1, 65535, 'TCP port 1-65535', ' (AWS IoT: 8883, or 443 with ALPN)');
intRange('cloudcam-keepalive', 30, 1200, 'whole seconds 30-1200 (AWS IoT limits)', ' (AWS IoT accepts 30-1200)');
intRange('cloudcam-ms', 1, 24 * 3600 * 1000, 'whole milliseconds > 0');
intRange('cloudcam-percent', 0, 100, 'whole number 0-100');
intRange('cloudcam-bytes', 1, 2 ** 31 - 1, 'whole number of bytes > 0');
addFormat(
  'cloudcam-mqtt-version',
  '"5" or "3.1.1"',
  (v) => {
    if (v !== 5 && v !== 4) throw new Error(`must be "5" (MQTT 5) or "3.1.1", got ${show(v)}`);
  },
  (raw) => ({ '5': 5, '5.0': 5, '3.1.1': 4, '4': 4 })[raw.trim()] ?? raw,
);
readableFileFormat(
  'cloudcam-ca-file',
  'the CA certificate (PEM) that signed the server certificate',
  'For AWS IoT download AmazonRootCA1.pem from https://www.amazontrust.com/repository/AmazonRootCA1.pem; devcloud writes its CA into its state dir.',
);
readableFileFormat(
  'cloudcam-cert-file',
  "this camera's device certificate (PEM)",
  'Use the certificate AWS IoT issued for this thing (aws iot create-keys-and-certificate, or fleet provisioning); devcloud writes one per camera.',
);
readableFileFormat(
  'cloudcam-key-file',
  "this camera's private key (PEM)",
  'It is created together with the device certificate and never leaves the camera; copy it next to the certificate.',
);
addFormat('cloudcam-camera-url', 'http(s) URL of the VAPIX host, without credentials', (v) => {
  if (typeof v !== 'string') throw new Error(`must be a URL such as "http://127.0.0.1", got ${show(v)}`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`is not a URL, e.g. "http://127.0.0.1" (the camera itself) or "http://192.168.0.90"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`must use http: or https:, got ${show(u.protocol)}`);
  if (u.username || u.password) throw new Error('must not carry credentials: put them in camera.username and camera.password');
});
addFormat('cloudcam-resolution', 'WIDTHxHEIGHT, e.g. 1920x1080', (v) => {
  const m = typeof v === 'string' ? /^(\d+)x(\d+)$/.exec(v) : null;
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) {
    throw new Error(`must be WIDTHxHEIGHT in pixels, e.g. "1920x1080" (see the camera's supported resolutions), got ${show(v)}`);
  }
});
addFormat('cloudcam-syslog-url', '"" (off), udp://HOST:PORT or tcp://HOST:PORT', (v) => {
  if (typeof v !== 'string') throw new Error(`must be a string such as "udp://10.0.0.5:514", got ${show(v)}`);
  parseSyslogUrl(v);
});
addFormat('cloudcam-syslog-app-name', '1-48 printable ASCII characters, no spaces', (v) => {
  if (typeof v !== 'string' || !/^[\x21-\x7e]{1,48}$/.test(v)) throw new Error(`must be 1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME), got ${show(v)}`);
});
hostListFormat('cloudcam-upload-hosts', true, 'list of host, host:port or *.domain (env: comma-separated)');
hostListFormat('cloudcam-insecure-hosts', false, 'list of exact host or host:port (env: comma-separated)');
addFormat('cloudcam-cron', 'cron expression (5 or 6 fields), "" = off', (v) => {
  if (v === '') return;
  if (typeof v !== 'string' || !validateCron(v)) {
    const detail = typeof v === 'string' ? validateCronDetailed(v).errors.map((e) => e.message).join('; ') : 'not a string';
    throw new Error(
      `is not a cron expression (${detail}), got ${show(v)}: use 5 or 6 fields, e.g. "*/15 * * * *" for every 15 minutes, or "" to turn the schedule off`,
    );
  }
});
addFormat('cloudcam-timezone', 'IANA time zone, "" = the system zone', (v) => {
  if (v === '') return;
  try {
    if (typeof v !== 'string') throw new Error('not a string');
    new Intl.DateTimeFormat('en', { timeZone: v });
  } catch {
    throw new Error(`is not a known IANA time zone such as "Europe/Stockholm" or "UTC", got ${show(v)}`);
  }
});
addFormat('cloudcam-dir', 'directory path', (v) => {
  if (typeof v !== 'string' || v.length === 0) throw new Error(`must be a directory path, got ${show(v)}`);
});
