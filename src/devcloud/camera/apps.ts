/**
 * The simulator's Application API: installed ACAP apps, upload.cgi (multipart `packfil`, the
 * package's manifest checked like AXIS OS checks it), control.cgi and list.cgi, with Axis's reply
 * formats (`OK`, `Error: N`, list XML) and error numbers (developer.axis.com/vapix/applications/application-api;
 * src/protocol/vapix/applications.ts UPLOAD_ERRORS, CONTROL_ERRORS).
 */
import { EapError, readEapManifest, type EapManifest } from '../../protocol/eap.js';

export interface SimulatedApp {
  manifest: EapManifest;
  status: 'Running' | 'Stopped';
  installedAt: Date;
  /**
   * How many times the camera has (re)started the app: control.cgi start and restart each count. What
   * runs the app's process outside the simulator (test-package, standing for the camera's systemd)
   * watches it through the control API and restarts the process when it grows.
   */
  runs: number;
}

/** Where an installed app's parameters go: the camera's parameter tree (params.ts). */
export interface AppParamSink {
  defineApp(appName: string, defs: readonly { name: string; default: string }[]): void;
}

/** Largest package the simulated camera takes; a bigger one gets `Error: 3` (too large or disk full). */
export const MAX_PACKAGE_BYTES = 32 * 1024 * 1024;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** The `packfil` part of a multipart/form-data body, or undefined. */
export function packfilPart(body: Buffer, contentType: string | undefined): Buffer | undefined {
  const m = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!m || !/^multipart\/form-data/i.test(contentType ?? '')) return undefined;
  const delimiter = Buffer.from(`--${m[1]}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const headerStart = pos + delimiter.length + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd === -1) return undefined;
    const headers = body.subarray(headerStart, headerEnd).toString('latin1');
    const next = body.indexOf(Buffer.from(`\r\n--${m[1]}`), headerEnd + 4);
    if (next === -1) return undefined;
    if (/name="packfil"/i.test(headers)) return body.subarray(headerEnd + 4, next);
    pos = next + 2;
  }
  return undefined;
}

export class AppRegistry {
  private readonly apps = new Map<string, SimulatedApp>();

  constructor(
    private readonly architecture: string,
    private readonly params: AppParamSink,
  ) {}

  get(name: string): SimulatedApp | undefined {
    return this.apps.get(name);
  }

  /** upload.cgi: installs (or replaces) the package; the app is left stopped, as after a real upload. */
  upload(pkg: Buffer | undefined): string {
    if (!pkg || pkg.length === 0) return 'Error: 1';
    if (pkg.length > MAX_PACKAGE_BYTES) return 'Error: 3';
    let manifest: EapManifest;
    try {
      manifest = readEapManifest(pkg);
    } catch (err) {
      if (err instanceof EapError) return 'Error: 1';
      throw err;
    }
    // Axis: 5 = not compatible with the device (the system log names the architecture).
    if (manifest.architecture !== 'all' && manifest.architecture !== this.architecture) return 'Error: 5';
    const old = this.apps.get(manifest.appName);
    this.install(manifest, old?.status === 'Running' ? 'Running' : 'Stopped');
    return 'OK';
  }

  /**
   * Records an installed app and creates its manifest's parameters under root.{appName}, as AXIS OS
   * does at installation (an app's param.cgi group exists only once it is installed). upload.cgi comes
   * here after its checks; so does devcloud's control API for a package unpacked on the host
   * (test-package), whose process runs outside the simulator.
   */
  install(manifest: EapManifest, status: SimulatedApp['status']): void {
    const old = this.apps.get(manifest.appName);
    this.params.defineApp(manifest.appName, manifest.paramConfig);
    this.apps.set(manifest.appName, { manifest, status, installedAt: new Date(), runs: (old?.runs ?? 0) + (status === 'Running' && old?.status !== 'Running' ? 1 : 0) });
  }

  list(): SimulatedApp[] {
    return [...this.apps.values()];
  }

  control(action: string | null, pkg: string | null): string {
    const app = pkg ? this.apps.get(pkg) : undefined;
    if (!app || !pkg) return 'Error: 4';
    switch (action) {
      case 'start':
        if (app.status === 'Running') return 'Error: 6';
        app.status = 'Running';
        app.runs++;
        return 'OK';
      case 'stop':
        if (app.status !== 'Running') return 'Error: 7';
        app.status = 'Stopped';
        return 'OK';
      case 'restart':
        app.status = 'Running';
        app.runs++;
        return 'OK';
      case 'remove':
        this.apps.delete(pkg);
        return 'OK';
      default:
        // No code for an unknown action on Axis's page: the unspecified one.
        return 'Error: 10';
    }
  }

  listXml(): string {
    const rows = [...this.apps.values()].map(
      ({ manifest: m, status }) =>
        `<application Name="${escapeXml(m.appName)}" NiceName="${escapeXml(m.friendlyName)}" Vendor="${escapeXml(m.vendor)}" ` +
        `Version="${escapeXml(m.version)}" ApplicationID="" License="None" Status="${status}" ConfigurationPage="local/${escapeXml(m.appName)}/index.html" VendorHomePage="" LicenseName="Proprietary" />`,
    );
    return `<reply result="ok">\n${rows.join('\n')}${rows.length ? '\n' : ''}</reply>\n`;
  }
}
