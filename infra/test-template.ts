import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAMBDAS } from './bundle.js';

/**
 * For the template tests: CloudFormation values resolved for one imaginary account, so policies,
 * ARNs and header values can be compared as the strings AWS will see. `Ref`s to resources become
 * `ref:{LogicalId}`, `Fn::GetAtt` becomes `getatt:{LogicalId}.{Attribute}`.
 */
export const PSEUDO: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-north-1', 'AWS::AccountId': '123456789012', 'AWS::URLSuffix': 'amazonaws.com' };

export function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return PSEUDO[String(v['Ref'])] ?? `ref:${String(v['Ref'])}`;
  if ('Fn::GetAtt' in v) return `getatt:${(v['Fn::GetAtt'] as string[]).join('.')}`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolve(p))).join(sep);
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
}

/**
 * Stand-in Lambda and web-app directories for tests that check only the template (cdk-nag, logs):
 * CDK hashes whatever is there, so a one-line handler per Lambda keeps those tests from bundling.
 * The template tests of the real bundles are infra/cloudcam-stack.test.ts and infra/viewer.test.ts.
 */
export async function placeholderAssets(dir: string): Promise<{ lambdaDir: string; webDir: string }> {
  const lambdaDir = path.join(dir, 'lambda');
  const webDir = path.join(dir, 'web');
  for (const name of Object.keys(LAMBDAS)) {
    await mkdir(path.join(lambdaDir, name), { recursive: true });
    await writeFile(path.join(lambdaDir, name, 'index.js'), 'exports.handler = async () => ({});\n');
  }
  await mkdir(webDir, { recursive: true });
  await writeFile(path.join(webDir, 'index.html'), '<!doctype html>\n');
  return { lambdaDir, webDir };
}
