import { describe, expect, it } from 'vitest';
import { CLOUD_IDENTITY, assertThingName, attachThing, clientIdRefusal, dynsecClient, filterCovers, grantsFor, isAllowed, isThingName, mayPublish, mosquittoSecurity, ruleFor } from './acl.js';

describe('filterCovers', () => {
  it.each([
    ['a/#', 'a', true], // `#` also matches the parent level
    ['a/#', 'a/b/c', true],
    ['a/#', 'a/+/c', true],
    ['a/#', 'a/#', true],
    ['a/#', 'b/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/b/c', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a/+', false],
    ['a/b', 'a/b/c', false],
    ['#', 'anything/at/all', true],
    ['#', '$aws/things/x', false], // wildcards never match `$` topics at the first level
    ['+/x', '$aws/x', false],
    ['$aws/#', '$aws/things/x/shadow/get', true],
  ])('%s covers %s: %s', (grant, filter, expected) => {
    expect(filterCovers(grant, filter)).toBe(expected);
  });
});

describe('roles', () => {
  it('confines a thing to its own $aws/things and cloudcam subtrees', () => {
    expect(ruleFor('cam-1')?.role).toBe('thing');
    expect(grantsFor('cam-1')).toEqual(['$aws/things/cam-1/shadow/#', '$aws/things/cam-1/jobs/#', 'cloudcam/cam-1/#']);
    expect(isAllowed('cam-1', '$aws/things/cam-1/shadow/name/cloudcam/update')).toBe(true);
    expect(isAllowed('cam-1', 'cloudcam/cam-1/presence')).toBe(true);
    expect(isAllowed('cam-1', 'cloudcam/cam-1/live/request')).toBe(true);
    expect(mayPublish('cam-1', 'cloudcam/cam-1/live/request')).toBe(false);
    expect(mayPublish('cam-1', 'cloudcam/cam-1/presence')).toBe(true);
    expect(mayPublish(CLOUD_IDENTITY, 'cloudcam/cam-1/live/request')).toBe(true);
    expect(isAllowed('cam-1', '$aws/things/cam-2/shadow/update')).toBe(false);
    expect(isAllowed('cam-1', 'cloudcam/cam-2/presence')).toBe(false);
    expect(isAllowed('cam-1', '$aws/things/+/shadow/#')).toBe(false);
    expect(isAllowed('cam-1', 'cloudcam/#')).toBe(false);
    expect(isAllowed('cam-1', '#')).toBe(false);
    expect(isAllowed('cam-1', '$aws/certificates/create-from-csr/json')).toBe(false);
  });

  it("gives a thing its own Jobs topics only, and no $aws/things subtree beyond shadow and jobs", () => {
    expect(isAllowed('cam-1', '$aws/things/cam-1/jobs/notify-next')).toBe(true);
    expect(isAllowed('cam-1', '$aws/things/cam-1/jobs/start-next')).toBe(true);
    expect(isAllowed('cam-1', '$aws/things/cam-1/jobs/+/update/accepted')).toBe(true);
    expect(isAllowed('cam-1', '$aws/things/cam-1/jobs/#')).toBe(true);
    expect(isAllowed('cam-1', '$aws/things/cam-2/jobs/notify-next')).toBe(false);
    expect(isAllowed('cam-1', '$aws/things/cam-2/jobs/job-1/update')).toBe(false);
    expect(isAllowed('cam-1', '$aws/things/+/jobs/#')).toBe(false);
    expect(isAllowed('cam-1', '$aws/things/cam-1/#')).toBe(false);
    expect(isAllowed('cam-1', '$aws/things/cam-1/tunnels/notify')).toBe(false);
  });

  it('lets the cloud identity use every topic, $aws included', () => {
    expect(ruleFor(CLOUD_IDENTITY)?.role).toBe('cloud');
    expect(isAllowed(CLOUD_IDENTITY, '$aws/things/+/shadow/#')).toBe(true);
    expect(isAllowed(CLOUD_IDENTITY, 'cloudcam/+/presence')).toBe(true);
    expect(isAllowed(CLOUD_IDENTITY, '#')).toBe(true);
  });

  it('confines claim identities to fleet-provisioning topics', () => {
    expect(ruleFor('claim-batch1')?.role).toBe('claim');
    expect(isAllowed('claim-batch1', '$aws/certificates/create-from-csr/json')).toBe(true);
    expect(isAllowed('claim-batch1', '$aws/provisioning-templates/tpl/provision/json/accepted')).toBe(true);
    expect(isAllowed('claim-batch1', '$aws/things/claim-batch1/shadow/get')).toBe(false);
    expect(isAllowed('claim-batch1', 'cloudcam/claim-batch1/presence')).toBe(false);
  });

  it('gives a provisioned certificate no topic until a thing is attached, then only that thing\'s', () => {
    const id = 'cert-0123456789abcdef';
    expect(ruleFor(id)?.role).toBe('provisioned');
    expect(isThingName(id)).toBe(false);
    expect(grantsFor(id)).toEqual([]);
    expect(isAllowed(id, '$aws/things/cloudcam-ACCC8E200001/shadow/get')).toBe(false);
    attachThing(id, 'cloudcam-ACCC8E200001');
    expect(grantsFor(id)).toEqual(['$aws/things/cloudcam-ACCC8E200001/shadow/#', '$aws/things/cloudcam-ACCC8E200001/jobs/#', 'cloudcam/cloudcam-ACCC8E200001/#']);
    expect(isAllowed(id, 'cloudcam/cloudcam-ACCC8E200002/presence')).toBe(false);
    expect(dynsecClient(id)).toMatchObject({ username: id, clientid: 'cloudcam-ACCC8E200001' });
    expect(() => attachThing('camera-1', 'x')).toThrow(/only cert-\* identities/);
  });

  it('knows no role for names that could smuggle wildcards into a grant', () => {
    for (const bad of ['cam/1', 'cam+', 'cam#', '', 'a b']) {
      expect(ruleFor(bad)).toBeUndefined();
      expect(isAllowed(bad, 'cloudcam/cam/1/x')).toBe(false);
    }
    expect(() => assertThingName('cam/1')).toThrow(/invalid thing name/);
  });
});

describe('mosquittoSecurity', () => {
  it('gives each known identity its own dynsec client and role with its grants, and denies by default', () => {
    const config = mosquittoSecurity([CLOUD_IDENTITY, 'cam-1', 'claim-x', 'cam-1']);
    expect(config.defaultACLAccess).toEqual({ publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true });
    expect(config.clients.map((c) => [c.username, c.textname, c.roles])).toEqual([
      ['cam-1', 'thing', [{ rolename: 'cam-1' }]],
      ['claim-x', 'claim', [{ rolename: 'claim-x' }]],
      [CLOUD_IDENTITY, 'cloud', [{ rolename: CLOUD_IDENTITY }]],
    ]);
    const cam = config.roles.find((r) => r.rolename === 'cam-1');
    expect(cam?.acls).toEqual([
      // The live request is the cloud's to send: a higher-priority deny of the camera's publish.
      { acltype: 'publishClientSend', topic: 'cloudcam/cam-1/live/request', allow: false, priority: 10 },
      ...['$aws/things/cam-1/shadow/#', '$aws/things/cam-1/jobs/#', 'cloudcam/cam-1/#'].flatMap((topic) =>
        ['publishClientSend', 'publishClientReceive', 'subscribePattern'].map((acltype) => ({ acltype, topic, allow: true })),
      ),
    ]);
    const claim = config.roles.find((r) => r.rolename === 'claim-x');
    expect(new Set(claim?.acls.map((a) => a.topic))).toEqual(new Set(['$aws/certificates/create-from-csr/#', '$aws/provisioning-templates/#']));
  });

  it('refuses an identity no rule knows', () => {
    expect(() => mosquittoSecurity(['bad/name'])).toThrow(/no ACL rule matches identity "bad\/name"/);
  });
});

describe('client ids (iot:Connect)', () => {
  it('holds devcloud, the agent and the CDK claim policy to one claim prefix', async () => {
    const { CLAIM_CLIENT_ID_PREFIX: agentPrefix } = await import('../../agent/provisioning/provisioning.js');
    const { CLAIM_CLIENT_ID_PREFIX } = await import('../../protocol/fleet-provisioning.js');
    expect(agentPrefix).toBe(CLAIM_CLIENT_ID_PREFIX);
    expect(clientIdRefusal('claim-batch1', `${CLAIM_CLIENT_ID_PREFIX}ACCC8E000001`)).toBeUndefined();
    expect(clientIdRefusal('claim-batch1', CLAIM_CLIENT_ID_PREFIX)).toMatch(/starts with/);
    expect(clientIdRefusal('claim-batch1', 'cam-1')).toMatch(/starts with "cloudcam-claim-"/);
  });

  it('pins a thing certificate to its thing name and a provisioned one to its attached thing', () => {
    expect(clientIdRefusal('cam-1', 'cam-1')).toBeUndefined();
    expect(clientIdRefusal('cam-2', 'cam-1')).toMatch(/thing "cam-2" must connect with client id "cam-2"/);
    expect(clientIdRefusal('cert-unattached', 'cam-1')).toMatch(/no thing attached/);
    attachThing('cert-clientid', 'cam-9');
    expect(clientIdRefusal('cert-clientid', 'cam-9')).toBeUndefined();
    expect(clientIdRefusal('cert-clientid', 'cert-clientid')).toMatch(/must connect with client id "cam-9"/);
    expect(clientIdRefusal(CLOUD_IDENTITY, 'anything')).toBeUndefined();
    expect(clientIdRefusal('nobody known!', 'x')).toMatch(/matches no ACL role/);
  });
});
