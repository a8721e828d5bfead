/**
 * Live view's cloud side in the synthesized template (infra/live.ts). The rules are AWS's: a role the
 * IoT credentials provider assumes must trust `credentials.iot.amazonaws.com`, the role alias's
 * credentialDurationSeconds lies in 900-43200 and within the role's maximum session, and the device
 * policy must allow `iot:AssumeRoleWithCertificate` on the role alias (developer guide, "Authorizing
 * direct calls to AWS services using AWS IoT Core credential provider"). The lambda code is a stub:
 * only the template is under test.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudcamStack } from './cloudcam-stack.js';
import { CAMERA_ACTIONS, CloudcamLive, VIEWER_API_ACTIONS } from './live.js';
import { LAMBDAS } from './bundle.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
}
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

let dir: string;
let resources: Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
/** Every statement of the IAM policies attached to the role whose logical id starts with `prefix`. */
const statementsOf = (prefix: string): Statement[] =>
  ofType('AWS::IAM::Policy')
    .filter(([id]) => id.startsWith(prefix))
    .flatMap(([, r]) => (r.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-live-cdk-'));
  for (const name of Object.keys(LAMBDAS)) {
    await mkdir(path.join(dir, 'lambda', name), { recursive: true });
    await writeFile(path.join(dir, 'lambda', name, 'index.js'), 'exports.handler = async () => undefined;\n');
  }
  await mkdir(path.join(dir, 'web'), { recursive: true });
  await writeFile(path.join(dir, 'web', 'index.html'), '<!doctype html>');
  const stack = new CloudcamStack(new App(), 'Cloudcam', { lambdaDir: path.join(dir, 'lambda'), viewer: { webDir: path.join(dir, 'web'), cognitoDomainPrefix: 'cloudcam-test' } });
  resources = Template.fromStack(stack).toJSON()['Resources'] as Resources;
}, 90_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('live view in AWS (template)', () => {
  it('has a role trusted only by the IoT credentials provider, behind a role alias of one hour', () => {
    const [[roleId, role]] = ofType('AWS::IAM::Role').filter(([id]) => id.startsWith('LiveCameraRole')) as [[string, Resources[string]]];
    const trust = (role.Properties['AssumeRolePolicyDocument'] as { Statement: Statement[] }).Statement;
    expect(trust).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'credentials.iot.amazonaws.com' } }]);
    expect(role.Properties['MaxSessionDuration']).toBeGreaterThanOrEqual(3600);
    const [[, alias]] = ofType('AWS::IoT::RoleAlias') as [[string, Resources[string]]];
    expect(alias.Properties['CredentialDurationSeconds']).toBe(3600);
    expect(alias.Properties['RoleArn']).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
  });

  it("scopes the camera role to the camera's own channel with ${credentials-iot:ThingName}, four actions only", () => {
    const statements = statementsOf('LiveCameraRole');
    expect(statements).toHaveLength(1);
    expect(asList(statements[0]!.Action).sort()).toEqual([...CAMERA_ACTIONS].sort());
    expect(JSON.stringify(statements[0]!.Resource)).toContain(':channel/cloudcam-${credentials-iot:ThingName}/*');
    expect(JSON.stringify(statements)).not.toMatch(/ConnectAsViewer|CreateSignalingChannel|DeleteSignalingChannel|kinesisvideo:\*/);
  });

  it('lets the device policy assume the role through its alias, and nothing broader', () => {
    const [[, policy]] = ofType('AWS::IoT::Policy').filter(([id]) => id.startsWith('DevicePolicy')) as [[string, Resources[string]]];
    const statements = (policy.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement;
    const assume = statements.filter((s) => asList(s.Action).includes('iot:AssumeRoleWithCertificate'));
    expect(assume).toHaveLength(1);
    expect(JSON.stringify(assume[0]!.Resource)).toContain(':rolealias/');
    expect(JSON.stringify(assume[0]!.Resource)).not.toContain('*');
  });

  it('lets the viewer API create channels and presign viewers on cloudcam-* channels, never as MASTER', () => {
    const kvs = statementsOf('ViewerApiRole').filter((s) => asList(s.Action).some((a) => a.startsWith('kinesisvideo:')));
    expect(kvs).toHaveLength(1);
    expect(asList(kvs[0]!.Action).sort()).toEqual([...VIEWER_API_ACTIONS].sort());
    expect(JSON.stringify(kvs[0]!.Resource)).toContain(':channel/cloudcam-*');
  });
});

describe('CloudcamLive', () => {
  it('refuses a credential duration AWS refuses', () => {
    expect(() => new CloudcamLive(new Stack(new App(), 'S'), 'Live', { roleAliasName: 'a', credentialSeconds: 600 })).toThrow(/900 to 43200/);
    expect(() => new CloudcamLive(new Stack(new App(), 'S'), 'Live', { roleAliasName: 'a', credentialSeconds: 43201 })).toThrow(/900 to 43200/);
  });
});
