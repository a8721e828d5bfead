import { describe, expect, it } from 'vitest';
import { ParamTree } from './params.js';

const tree = () =>
  new ParamTree({
    brand: { prodFullName: 'AXIS M3106-L Mk II Network Camera', prodNbr: 'M3106-L Mk II', prodShortName: 'AXIS M3106-L Mk II' },
    serialNumber: 'B8A44F000001',
    architecture: 'armv7hf',
    soc: 'Axis Artpec-6',
    firmware: '11.11.73',
    buildDate: 'Oct 14 2025 10:12',
    resolutions: ['1920x1080', '640x360'],
    defaultResolution: '1920x1080',
    defaultCompression: 30,
    dhcpNtpServer: '10.0.0.1',
  });

describe('ParamTree', () => {
  it('lists everything under root, sorted, with the root. prefix', () => {
    const lines = tree().list(null).trim().split('\n');
    expect(lines).toContain('root.Brand.ProdNbr=M3106-L Mk II');
    expect(lines).toContain('root.Properties.Image.Resolution=1920x1080,640x360');
    expect(lines).toEqual([...lines].sort());
    expect(tree().list('root')).toBe(tree().list(''));
  });

  it('matches a group by whole path segments and with * wildcards', () => {
    expect(tree().list('Time.NTP')).toBe('root.Time.NTP.Server=0.0.0.0\nroot.Time.NTP.VolatileServer=10.0.0.1\n');
    expect(tree().list('Time.NT')).toBe("# Error: Error -1 getting param in group 'Time.NT'\n");
    expect(tree().list('Properties.*.Version')).toBe('root.Properties.Firmware.Version=11.11.73\n');
  });

  it('validates updates per parameter', () => {
    const t = tree();
    expect(t.update([['Image.I0.Appearance.Resolution', '640x360']])).toBe('OK\n');
    expect(t.get('root.Image.I0.Appearance.Resolution')).toBe('640x360');
    expect(t.update([['Image.I0.Appearance.Resolution', '123x45']])).toBe(
      "# Error: Error setting 'root.Image.I0.Appearance.Resolution' to '123x45'!\n",
    );
    expect(t.update([['Image.I0.Appearance.Compression', '101']])).toMatch(/^# Error/);
    expect(t.update([['Time.NTP.Server', 'a\nb']])).toMatch(/^# Error/);
    expect(t.update([['No.Such', '1']])).toBe("# Error: Error setting 'root.No.Such' to '1'!\n");
    expect(t.update([])).toMatch(/^# Error/);
  });

  it('has a Time group shaped like a recorded camera reply (Kane610/axis tests/test_param_cgi.py)', () => {
    const t = tree();
    expect(t.list('Time').trim().split('\n')).toEqual([
      'root.Time.DST.Enabled=no',
      'root.Time.NTP.Server=0.0.0.0',
      'root.Time.NTP.VolatileServer=10.0.0.1',
      'root.Time.ObtainFromDHCP=yes',
      'root.Time.POSIXTimeZone=UTC0',
      'root.Time.ServerDate=',
      'root.Time.ServerTime=',
      'root.Time.SyncSource=NTP',
    ]);
    // VolatileServer is what DHCP gave: read-only, as on the camera.
    expect(t.update([['Time.NTP.VolatileServer', '1.2.3.4']])).toMatch(/^# Error/);
  });
});
