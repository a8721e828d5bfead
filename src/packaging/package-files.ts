/**
 * The small files that travel with the executable: the package defaults, LICENSE (ours, Node's and
 * every bundled package's), and for the gateway tarball a systemd unit and an install script (which
 * also installs the packed lazy chunks beside the executable).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LAUNCHER_NAME, launcherScript } from '../agent/update/gateway-launcher.js';
import type { RuntimeSettings } from '../agent/runtime-settings.js';
import { LAZY_CHUNKS } from './lazy-chunks.js';
import { RUNTIME_NOTES_FILE } from './flavours.js';

/**
 * cloudcam.defaults.json: what an installed package starts from. Relative paths start at the
 * package directory; everything the agent writes or is provisioned with lives under localdata/,
 * which AXIS OS keeps across upgrades.
 */
export function defaultsFileContent(): string {
  return (
    JSON.stringify(
      {
        camera: { url: 'http://127.0.0.1' },
        iot: {
          // Shipped in the package (certs/, from Node's root store): AWS IoT's ATS roots, RSA and ECC.
          caPath: 'certs/AmazonRootCAs.pem',
          certPath: 'localdata/certs/device.crt',
          keyPath: 'localdata/certs/device.key',
        },
        stateDir: 'localdata/state',
        log: { format: 'syslog-stdout' },
      },
      null,
      2,
    ) + '\n'
  );
}

/** Apache-2.0 for cloudcam, then the runtime's license(s), then the license of each package in the bundle. */
export function licenseText(bundledPackages: string[], runtime: { title: string; text: string }): string {
  const parts = [fs.readFileSync(path.resolve('packaging', 'LICENSE.apache-2.0'), 'utf8')];
  parts.push(`\n${'='.repeat(78)}\n${runtime.title}\n${'='.repeat(78)}\n\n${runtime.text}`);
  for (const pkg of bundledPackages.filter((p) => p !== '(cloudcam)').sort()) {
    const dir = path.resolve('node_modules', pkg);
    const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string; license?: string };
    const body = file ? fs.readFileSync(path.join(dir, file), 'utf8') : `License: ${meta.license ?? 'see the package'}\n`;
    parts.push(`\n${'='.repeat(78)}\n${pkg}@${meta.version ?? '?'} (bundled)\n${'='.repeat(78)}\n\n${body}`);
  }
  return parts.join('');
}

/** [name, content, mode] of the gateway tarball's own files. */
export function gatewayFiles(appName: string, runtimeDefaults: RuntimeSettings): [string, string, number][] {
  const unit = `# cloudcam agent on a plain Linux gateway (cameras behind it reached over VAPIX).
# Installed by install.sh; settings: /opt/${appName}/localdata/cloudcam.json (docs/config.md).
[Unit]
Description=cloudcam camera agent
Wants=network-online.target
After=network-online.target

[Service]
# The launcher runs the release an update put in /var/lib/${appName}/releases (else /opt/${appName}/${appName})
# and rolls a pending update back after a crash loop (docs/update.md).
ExecStart=/opt/${appName}/${LAUNCHER_NAME}
Restart=always
RestartSec=10
# Its own unprivileged user; it writes only its state under /var/lib/${appName} (= localdata/).
DynamicUser=yes
StateDirectory=${appName}
StateDirectoryMode=0700
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
`;
  const install = `#!/bin/sh
# Installs the cloudcam agent to /opt/${appName} with its systemd unit. Run as root from the unpacked tarball.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
install -d /opt/${appName}
install -m 0755 "$here/${appName}" "$here/${LAUNCHER_NAME}" /opt/${appName}/
install -m 0644 "$here/cloudcam.defaults.json" "$here/LICENSE" "$here/${RUNTIME_NOTES_FILE}"${LAZY_CHUNKS.map((c) => ` "$here/${c.file}"`).join('')} /opt/${appName}/
install -d /opt/${appName}/certs
install -m 0644 "$here"/certs/*.pem /opt/${appName}/certs/
# Release public keys that cloudcam.update trusts (certs/release-keys/{keyId}.pem; may be none yet).
install -d /opt/${appName}/certs/release-keys
for key in "$here"/certs/release-keys/*.pem; do if [ -e "$key" ]; then install -m 0644 "$key" /opt/${appName}/certs/release-keys/; fi; done
# A hand install wins over a release an update put in place (docs/update.md).
rm -f /var/lib/${appName}/current /var/lib/${appName}/previous
# localdata/ is the agent's state: systemd's StateDirectory, kept across upgrades.
ln -sfn /var/lib/${appName} /opt/${appName}/localdata
install -m 0644 "$here/${appName}.service" /etc/systemd/system/${appName}.service
systemctl daemon-reload
echo "installed. Put the settings in /var/lib/${appName}/cloudcam.json and the certificates in /var/lib/${appName}/certs/,"
echo "then: systemctl enable --now ${appName}"
`;
  return [
    [`${appName}.service`, unit, 0o644],
    ['install.sh', install, 0o755],
    [LAUNCHER_NAME, launcherScript(appName, '', runtimeDefaults), 0o755],
  ];
}
