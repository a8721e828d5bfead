import { describe, expect, it } from 'vitest';
import { fitsOs, pickPackage, type PackageFile } from './install.js';
import type { EapManifest } from '../protocol/eap.js';

/** The packages `make package` builds (docs/packaging.md), as their manifests read. */
function pkg(file: string, architecture: EapManifest['architecture'], ranges: EapManifest['compatibleOsVersions'], version = '1.4.0'): PackageFile {
  return { file, bytes: Buffer.alloc(0), manifest: { appName: 'cloudcam', version, architecture, friendlyName: 'cloudcam', vendor: 'cloudcam', reverseProxy: [], paramConfig: [], compatibleOsVersions: ranges } };
}
const debian = pkg('cloudcam_1.4.0_armv7hf.eap', 'armv7hf', [{ min: '12.0', max: '13' }]);
const axisOs11 = pkg('cloudcam_1.4.0_armv7hf-axisos11-eol.eap', 'armv7hf', [{ min: '11.11', max: '11' }]);
const aarch64 = pkg('cloudcam_1.4.0_aarch64.eap', 'aarch64', [{ min: '11.11', max: '13' }]);
const all = [axisOs11, aarch64, debian];

describe('the package for a camera', () => {
  it('armv7hf on AXIS OS 12: the Debian-runtime package, saying why and what it passed over', () => {
    const { pkg: chosen, why } = pickPackage(all, 'armv7hf', [], '12.5.56');
    expect(chosen).toBe(debian);
    expect(why).toBe('cloudcam_1.4.0_armv7hf.eap: built for armv7hf and AXIS OS 12.0 to 13, which includes AXIS OS 12.5.56; not cloudcam_1.4.0_armv7hf-axisos11-eol.eap (AXIS OS 11.11 to 11: does not fit)');
  });

  it('armv7hf on AXIS OS 11: the AXIS OS 11 package (glibc 2.38 is not there for Debian’s node)', () => {
    expect(pickPackage(all, 'armv7hf', [], '11.11.73').pkg).toBe(axisOs11);
    expect(pickPackage(all, 'armv7hf', [], '11.11.73').why).toContain('not cloudcam_1.4.0_armv7hf.eap (AXIS OS 12.0 to 13: does not fit)');
  });

  it('aarch64 by architecture whatever the AXIS OS', () => {
    expect(pickPackage(all, 'aarch64', [], '12.1.0').pkg).toBe(aarch64);
    expect(pickPackage(all, 'aarch64', [], '11.11.1').pkg).toBe(aarch64);
  });

  it('a newer version wins over the range; between equal versions the package for the newer AXIS OS', () => {
    const older = pkg('cloudcam_1.3.0_armv7hf.eap', 'armv7hf', [{ min: '12.0', max: '13' }], '1.3.0');
    const wide = pkg('cloudcam_1.4.0_armv7hf-wide.eap', 'armv7hf', [{ min: '11.11', max: '13' }]);
    expect(pickPackage([older, axisOs11], 'armv7hf', [], '12.0.1').pkg).toBe(older);
    expect(pickPackage([wide, debian], 'armv7hf', [], '12.0.1').pkg).toBe(debian);
  });

  it('refuses an AXIS OS no package fits, naming every package and its range', () => {
    expect(() => pickPackage(all, 'armv7hf', [], '10.12.220')).toThrow(
      /no package for this camera's AXIS OS 10\.12\.220 \(armv7hf\): found only .*cloudcam_1\.4\.0_armv7hf-axisos11-eol\.eap \(armv7hf, AXIS OS 11\.11 to 11\).*Upgrade AXIS OS/,
    );
  });

  it('reads a range bound the way AXIS OS versions are written', () => {
    const m = { compatibleOsVersions: [{ min: '11.11', max: '11' }] };
    expect(fitsOs(m, '11.11.0')).toBe(true);
    expect(fitsOs(m, '11.9.60')).toBe(false);
    expect(fitsOs(m, '11.99.1')).toBe(true);
    expect(fitsOs(m, '12.0.0')).toBe(false);
    expect(fitsOs({ compatibleOsVersions: [] }, '9.80.1')).toBe(true); // schema 1.x declares no range
  });
});
