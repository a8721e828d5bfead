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
