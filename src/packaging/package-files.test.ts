/**
 * The gateway tarball's install.sh, run by sh as root would run it from the unpacked tarball, with
 * the system paths it writes (/opt, /etc, /var/lib) moved under a temp dir and systemctl left out:
 * everything the agent reads beside its executable must arrive in /opt/cloudcam.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayFiles } from './package-files.js';
import { LAZY_CHUNKS } from './lazy-chunks.js';
import { RUNTIME_NOTES_FILE } from './flavours.js';
import { RUNTIME_DEFAULTS } from '../agent/runtime-settings.js';
import { LAUNCHER_NAME } from '../agent/update/gateway-launcher.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A command that runs the real one with every absolute system path moved under $FAKE_ROOT. */
const REROOT = `#!/bin/sh
cmd=$(basename "$0")
[ "$cmd" = systemctl ] && exit 0
for a in "$@"; do
  case "$a" in /opt/*|/etc/*|/var/*) a="$FAKE_ROOT$a" ;; esac
  set -- "$@" "$a"
  shift
done
exec "/usr/bin/$cmd" "$@"
`;

/** The files the build puts at the tarball's top (build.ts), each with distinct content. */
function unpackedTarball(dir: string): string[] {
  const top = path.join(dir, 'cloudcam-1.2.3');
  fs.mkdirSync(path.join(top, 'certs', 'release-keys'), { recursive: true });
  const files = ['cloudcam', 'LICENSE', 'cloudcam.defaults.json', RUNTIME_NOTES_FILE, ...LAZY_CHUNKS.map((c) => c.file), 'certs/AmazonRootCAs.pem', 'certs/release-keys/release-2026.pem'];
  for (const f of files) fs.writeFileSync(path.join(top, f), `content of ${f}\n`, { mode: f === 'cloudcam' ? 0o755 : 0o644 });
  for (const [name, content, mode] of gatewayFiles('cloudcam', RUNTIME_DEFAULTS)) fs.writeFileSync(path.join(top, name), content, { mode });
  return [...files, LAUNCHER_NAME];
}

describe("the gateway tarball's install.sh", () => {
  it('installs every file the agent reads beside its executable, the live-view code file included', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-install-sh-'));
    dirs.push(dir);
    const expected = unpackedTarball(dir);
    const bin = path.join(dir, 'bin');
    const root = path.join(dir, 'root');
    fs.mkdirSync(bin);
    fs.mkdirSync(path.join(root, 'etc', 'systemd', 'system'), { recursive: true });
    for (const cmd of ['install', 'ln', 'rm', 'systemctl']) fs.writeFileSync(path.join(bin, cmd), REROOT, { mode: 0o755 });
    execFileSync('sh', [path.join(dir, 'cloudcam-1.2.3', 'install.sh')], { env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_ROOT: root }, stdio: 'pipe' });
    const opt = path.join(root, 'opt', 'cloudcam');
    for (const f of expected) expect(fs.existsSync(path.join(opt, f)) ? fs.readFileSync(path.join(opt, f), 'utf8') : `${f} not installed`).toBe(f === LAUNCHER_NAME ? fs.readFileSync(path.join(dir, 'cloudcam-1.2.3', f), 'utf8') : `content of ${f}\n`);
    expect(fs.existsSync(path.join(root, 'etc', 'systemd', 'system', 'cloudcam.service'))).toBe(true);
  });
});
