/**
 * The simulator's param.cgi parameter tree and its text replies, in the formats of the VAPIX
 * Parameter management API: `root.Group.Name=value` lines, `OK`, `# Error: ...` lines.
 */

interface ParamDef {
  value: string;
  /** undefined: read-only. Otherwise returns whether the value is acceptable. */
  accept?: (v: string) => boolean;
}

const yesNo = (v: string): boolean => v === 'yes' || v === 'no';
const anyText = (v: string): boolean => v.length <= 255 && !/[\r\n]/.test(v);

export interface ParamTreeSeed {
  brand: { prodFullName: string; prodNbr: string; prodShortName: string };
  serialNumber: string;
  architecture: string;
  soc: string;
  firmware: string;
  buildDate: string;
  resolutions: string[];
  defaultResolution: string;
  defaultCompression: number;
  /** Time.NTP.VolatileServer: what DHCP handed out, 0.0.0.0 when nothing. */
  dhcpNtpServer: string;
}

export class ParamTree {
  private readonly params = new Map<string, ParamDef>();

  constructor(seed: ParamTreeSeed) {
    const ro = (k: string, value: string) => this.params.set(k, { value });
    const rw = (k: string, value: string, accept: (v: string) => boolean) => this.params.set(k, { value, accept });
    ro('Brand.Brand', 'AXIS');
    ro('Brand.ProdFullName', seed.brand.prodFullName);
    ro('Brand.ProdNbr', seed.brand.prodNbr);
    ro('Brand.ProdShortName', seed.brand.prodShortName);
    ro('Brand.ProdType', 'Network Camera');
    ro('Brand.WebURL', 'http://www.axis.com');
    ro('Properties.API.HTTP.Version', '3');
    ro('Properties.Firmware.BuildDate', seed.buildDate);
    ro('Properties.Firmware.Version', seed.firmware);
    ro('Properties.Image.Format', 'jpeg,mjpeg,h264');
    ro('Properties.Image.Resolution', seed.resolutions.join(','));
    ro('Properties.System.Architecture', seed.architecture);
    ro('Properties.System.SerialNumber', seed.serialNumber);
    ro('Properties.System.Soc', seed.soc);
    rw('Image.I0.Appearance.Compression', String(seed.defaultCompression), (v) => /^\d{1,3}$/.test(v) && Number(v) <= 100);
    rw('Image.I0.Appearance.Resolution', seed.defaultResolution, (v) => seed.resolutions.includes(v));
    rw('Network.HostName', `axis-${seed.serialNumber.toLowerCase()}`, (v) => /^[A-Za-z0-9-]{1,63}$/.test(v));
    // The Time group as a camera out of the box lists it (Kane610/axis tests/test_param_cgi.py, a
    // recorded reply): no static server is 0.0.0.0, DHCP's server is read-only in VolatileServer,
    // ServerDate/ServerTime are empty unless the time is set by hand.
    rw('Time.DST.Enabled', 'no', yesNo);
    rw('Time.NTP.Server', '0.0.0.0', anyText);
    ro('Time.NTP.VolatileServer', seed.dhcpNtpServer);
    rw('Time.ObtainFromDHCP', 'yes', yesNo);
    rw('Time.POSIXTimeZone', 'UTC0', anyText);
    rw('Time.ServerDate', '', (v) => v === '' || /^\d{4}-\d{2}-\d{2}$/.test(v));
    rw('Time.ServerTime', '', (v) => v === '' || /^\d{2}:\d{2}:\d{2}$/.test(v));
    rw('Time.SyncSource', 'NTP', (v) => v === 'NTP' || v === 'None' || v === 'PC');
  }

  /**
   * An installed app's parameters (its manifest's paramConfig) under root.{appName}: writable text, as
   * AXIS OS keeps string parameters, so param.cgi update reaches them (`cloudcam setup live` does).
   * Called when the app is installed (apps.ts).
   */
  defineApp(appName: string, defs: readonly { name: string; default: string }[]): void {
    // A reinstall (an upgrade) keeps the values already set; only new parameters get their default.
    for (const d of defs) if (!this.params.has(`${appName}.${d.name}`)) this.params.set(`${appName}.${d.name}`, { value: d.default, accept: anyText });
  }

  get(key: string): string | undefined {
    return this.params.get(stripRoot(key))?.value;
  }

  /** Body of `param.cgi?action=list[&group=a,b]`. */
  list(group: string | null): string {
    const groups = group === null || group.trim() === '' ? ['root'] : group.split(',');
    const lines: string[] = [];
    for (const g of groups) {
      const name = stripRoot(g.trim());
      const match = groupMatcher(name);
      const hits = [...this.params.keys()].filter(match).sort();
      if (hits.length === 0) lines.push(`# Error: Error -1 getting param in group '${g.trim()}'`);
      for (const k of hits) lines.push(`root.${k}=${this.params.get(k)?.value ?? ''}`);
    }
    return lines.join('\n') + '\n';
  }

  /** Body of `param.cgi?action=update&X=Y...`: valid values are stored, each refused one gets a line. */
  update(values: [string, string][]): string {
    if (values.length === 0) return '# Error: No parameters to update\n';
    const errors: string[] = [];
    for (const [rawKey, value] of values) {
      const key = stripRoot(rawKey);
      const def = this.params.get(key);
      if (!def?.accept || !def.accept(value)) {
        errors.push(`# Error: Error setting 'root.${key}' to '${value}'!`);
        continue;
      }
      def.value = value;
    }
    return errors.length === 0 ? 'OK\n' : errors.join('\n') + '\n';
  }
}

function stripRoot(k: string): string {
  return k === 'root' ? '' : k.startsWith('root.') ? k.slice(5) : k;
}

/** A group name, possibly with `*` for one path segment (VAPIX allows wildcards in list groups). */
function groupMatcher(name: string): (key: string) => boolean {
  if (name === '') return () => true;
  if (!name.includes('*')) return (k) => k === name || k.startsWith(`${name}.`);
  const re = new RegExp(
    `^${name
      .split('.')
      .map((seg) => (seg === '*' ? '[^.]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('\\.')}(\\..*)?$`,
  );
  return (k) => re.test(k);
}
