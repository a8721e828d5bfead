import { afterEach, describe, expect, it } from 'vitest';
import { cameraAdd } from '../../src/cli/camera-command.js';
import { setupNtpCli } from '../../src/cli/setup-command.js';
import { VapixClient } from '../../src/protocol/vapix/client.js';
import { addArgs, fieldIo, startFieldKit, type FieldKit } from '../helpers/field.js';

describe('cloudcam setup ntp against the camera simulator', () => {
  let kit: FieldKit | undefined;
  afterEach(async () => kit?.cleanup());

  async function kitWith(ntpApi: boolean): Promise<FieldKit> {
    kit = await startFieldKit({ ntpApi });
    await cameraAdd(addArgs(kit.camera), fieldIo(kit.configHome, kit.camera.password));
    return kit;
  }
  const params = async (k: FieldKit) =>
    new VapixClient({ baseUrl: k.camera.httpUrl, username: 'root', password: k.camera.password, timeoutMs: 5000 }).listParams('Time');

  for (const ntpApi of [true, false]) {
    const api = ntpApi ? 'ntp.cgi' : 'param.cgi';
    it(`fixes a wrong camera, then leaves the right one alone (${api})`, async () => {
      const k = await kitWith(ntpApi);
      const first = fieldIo(k.configHome);
      expect(await setupNtpCli(['--server', 'ntp1.example.net,ntp2.example.net'], first)).toBe(0);
      expect(first.stdout()).toContain(`✓ changed server source: DHCP -> static (${api})`);
      expect(first.stdout()).toContain('✓ changed servers: (none) -> ntp1.example.net, ntp2.example.net');
      expect(first.stdout()).toMatch(/✓ camera clock within 60 s/);
      const p = await params(k);
      expect(p['Time.NTP.Server']).toBe('ntp1.example.net,ntp2.example.net');
      expect(p['Time.ObtainFromDHCP']).toBe('no');

      const second = fieldIo(k.configHome);
      expect(await setupNtpCli(['--server', 'ntp1.example.net', '--server', 'ntp2.example.net'], second)).toBe(0);
      expect(second.stdout()).toContain('nothing changed');
      expect(second.stdout()).not.toContain('changed servers');
    });
  }

  it('turns a disabled NTP client on and says so', async () => {
    const k = await kitWith(true);
    await new VapixClient({ baseUrl: k.camera.httpUrl, username: 'root', password: k.camera.password, timeoutMs: 5000 }).updateParams({
      'Time.SyncSource': 'None',
      'Time.ObtainFromDHCP': 'no',
      'Time.NTP.Server': 'pool.ntp.org',
    });
    const io = fieldIo(k.configHome);
    expect(await setupNtpCli(['--server', 'pool.ntp.org'], io)).toBe(0);
    expect(io.stdout()).toContain('✓ changed NTP client: off -> on');
    expect(io.stdout()).not.toContain('servers:');
    expect((await params(k))['Time.SyncSource']).toBe('NTP');
  });

  it('reports a camera whose clock is an hour off (exit 1), from time.cgi and from the Date header', async () => {
    for (const ntpApi of [true, false]) {
      const k = await kitWith(ntpApi);
      k.camera.setClockOffset(3600_000);
      const io = fieldIo(k.configHome);
      expect(await setupNtpCli(['--server', 'pool.ntp.org'], io)).toBe(1);
      expect(io.stdout()).toMatch(/✗ camera clock is 60\.0 min ahead of this computer \(limit 60 s\) \(from (time\.cgi|Date header)\)/);
      expect(io.stdout()).toContain(ntpApi ? 'time.cgi' : 'Date header');
      await k.cleanup();
      kit = undefined;
    }
  });

  it('refuses a server name that is not one', async () => {
    const k = await kitWith(true);
    await expect(setupNtpCli(['--server', 'bad host;rm'], fieldIo(k.configHome))).rejects.toThrow(/not an NTP server name/);
  });
});
