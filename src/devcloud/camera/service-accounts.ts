/**
 * A stand-in for the camera's D-Bus side of VAPIX service accounts: a private `dbus-daemon` (Debian
 * package `dbus`) on a socket in a temp dir, with its own config, and on it a `com.axis.HTTPConf1`
 * service whose `GetCredentials(name)` returns "user:password" issued by the camera simulator
 * (simulator.ts ServiceAccounts). Point the agent's DBUS_SYSTEM_BUS_ADDRESS at `address`.
 *
 * The real bus on a camera is the system bus; its policy lets only apps whose manifest declares the
 * method call it. Here the policy lets any local user call it: the tests are about the agent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { DigestCredentials } from '../../protocol/digest.js';
import {
  connectBus,
  SERVICE_ACCOUNT_BUS_NAME,
  SERVICE_ACCOUNT_INTERFACE,
  SERVICE_ACCOUNT_OBJECT,
  type DbusMessageBus,
} from '../../protocol/vapix/service-account.js';

export interface ServiceAccountBus {
  /** D-Bus address, the value for DBUS_SYSTEM_BUS_ADDRESS. */
  readonly address: string;
  /** GetCredentials calls answered so far. */
  readonly calls: number;
  stop(): Promise<void>;
}

/** Whether this machine can run the stand-in (`dbus-daemon` on PATH or in /usr/bin). */
export function dbusDaemonAvailable(): boolean {
  return spawnSync('dbus-daemon', ['--version'], { stdio: 'ignore' }).status === 0;
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="${SERVICE_ACCOUNT_BUS_NAME}"/>
    <allow send_type="*"/>
    <allow receive_type="*"/>
  </policy>
</busconfig>
`;
}

/**
 * Starts the bus in `dir` (created, 0700) and the service on it. `issue` makes the credentials for
 * one call; throwing from it answers the call with a D-Bus error.
 */
export async function startServiceAccountBus(opts: { dir: string; issue: (name: string) => DigestCredentials }): Promise<ServiceAccountBus> {
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const socket = path.join(opts.dir, 'system_bus_socket');
  const configFile = path.join(opts.dir, 'bus.conf');
  fs.writeFileSync(configFile, busConfig(socket));
  const daemon = spawn('dbus-daemon', [`--config-file=${configFile}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  daemon.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-2000);
  });
  let address: string;
  try {
    address = await firstLine(daemon, () => stderr);
  } catch (err) {
    daemon.kill('SIGKILL');
    throw err;
  }

  let calls = 0;
  const bus = connectBus(address);
  try {
    await new Promise<void>((resolve, reject) => {
      bus.connection.on('error', reject);
      bus.requestName(SERVICE_ACCOUNT_BUS_NAME, 0, (err, code) => {
        // 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
        if (err || code !== 1) reject(new Error(`cannot own ${SERVICE_ACCOUNT_BUS_NAME} on the stand-in bus (${err instanceof Error ? err.message : `reply ${code}`})`));
        else resolve();
      });
    });
  } catch (err) {
    bus.connection.end();
    daemon.kill('SIGKILL');
    throw err;
  }
  bus.exportInterface(
    {
      GetCredentials: (name: string) => {
        calls++;
        const c = opts.issue(name);
        return `${c.username}:${c.password}`;
      },
    },
    SERVICE_ACCOUNT_OBJECT,
    { name: SERVICE_ACCOUNT_INTERFACE, methods: { GetCredentials: ['s', 's'] }, signals: {}, properties: {} },
  );
  return {
    address,
    get calls() {
      return calls;
    },
    stop: () => stopBus(bus, daemon),
  };
}

/** dbus-daemon --print-address writes the address as its first line once it listens. */
function firstLine(daemon: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: daemon.stdout! });
    const onExit = (code: number | null): void => reject(new Error(`dbus-daemon exited (${code}) before it listened: ${stderr().trim()}`));
    daemon.once('exit', onExit);
    daemon.once('error', (err) => reject(new Error(`cannot start dbus-daemon (${err.message}): install the Debian package dbus`)));
    lines.once('line', (line) => {
      daemon.off('exit', onExit);
      lines.close();
      resolve(line.trim());
    });
  });
}

async function stopBus(bus: DbusMessageBus, daemon: ChildProcess): Promise<void> {
  bus.connection.end();
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  daemon.kill('SIGTERM');
  await exited;
}
