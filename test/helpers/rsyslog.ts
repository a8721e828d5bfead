/**
 * A real rsyslog (Debian) for tests: unprivileged-capable, in the foreground, UDP and TCP inputs on
 * 127.0.0.1, every received line written to a file with its severity, facility, APP-NAME, MSGID and
 * structured data in front.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freeTcpPort } from '../../src/lib/free-port.js';

export const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export interface ReceivedLine {
  severity: number;
  facility: string;
  appName: string;
  msgId: string;
  structuredData: string;
  msg: string;
  raw: string;
}

export interface Rsyslog {
  udpPort: number;
  tcpPort: number;
  /** Raw text of the output file. */
  text(): Promise<string>;
  lines(): Promise<ReceivedLine[]>;
  /** Resolves with all lines once `done(lines)` holds; rejects after timeoutMs with what arrived. */
  waitFor(done: (lines: ReceivedLine[]) => boolean, timeoutMs?: number): Promise<ReceivedLine[]>;
  stop(): Promise<void>;
}

export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const dgram = await import('node:dgram');
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  return freeTcpPort();
}

const SEP = '\u0001';

export async function startRsyslog(opts: { tcpPort?: number; udpPort?: number } = {}): Promise<Rsyslog> {
  if (!RSYSLOGD) throw new Error('rsyslogd not found: apt-get install rsyslog (.ci/run does)');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudcam-rsyslog-'));
  const udpPort = opts.udpPort ?? (await freePort('udp'));
  const tcpPort = opts.tcpPort ?? (await freePort('tcp'));
  const out = path.join(dir, 'received.log');
  const conf = path.join(dir, 'rsyslog.conf');
  await fs.writeFile(
    conf,
    [
      `global(workDirectory="${dir}" maxMessageSize="16k")`,
      'module(load="imudp")',
      'module(load="imtcp")',
      `input(type="imudp" address="127.0.0.1" port="${udpPort}")`,
      `input(type="imtcp" address="127.0.0.1" port="${tcpPort}")`,
      `template(name="fields" type="string" string="%syslogseverity%${SEP}%syslogfacility-text%${SEP}%app-name%${SEP}%msgid%${SEP}%structured-data%${SEP}%msg%\\n")`,
      `*.* action(type="omfile" file="${out}" template="fields")`,
      '',
    ].join('\n'),
  );
  await fs.writeFile(out, '');
  const child: ChildProcess = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));

  // Ready when the TCP input accepts; rsyslog activates all inputs together.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`rsyslogd exited at start: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(tcpPort, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${tcpPort} within 10 s: ${stderr}`);
    await delay(20);
  }

  const text = (): Promise<string> => fs.readFile(out, 'utf8');
  const lines = async (): Promise<ReceivedLine[]> =>
    (await text())
      .split('\n')
      .filter((l) => l !== '')
      .map((raw) => {
        const [severity, facility, appName, msgId, structuredData, ...msg] = raw.split(SEP);
        return { severity: Number(severity), facility: facility ?? '', appName: appName ?? '', msgId: msgId ?? '', structuredData: structuredData ?? '', msg: msg.join(SEP).trimStart(), raw };
      });
  return {
    udpPort,
    tcpPort,
    text,
    lines,
    async waitFor(done, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = await lines();
        if (done(got)) return got;
        if (Date.now() > until) throw new Error(`rsyslog did not receive the expected lines within ${timeoutMs} ms; got ${got.length}:\n${got.map((l) => l.raw).join('\n').slice(0, 4000)}`);
        await delay(25); // rsyslog's omfile offers no notification; the file is the only signal
      }
    },
    async stop() {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await gone;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
