import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * Acknowledging cdk-nag findings (AwsSolutions pack) where the stack keeps what the rule flags on
 * purpose. cdk-nag 3 reads CDK's own acknowledgement metadata (`Validations.of(x).acknowledge`), on the
 * construct or any of its parents; each wildcard of AwsSolutions-IAM5 is its own finding, named by the
 * resource as cdk-nag flattens it (`<LogicalId.Arn>/*`), so a new wildcard is a new, unacknowledged
 * finding. infra/nag.test.ts fails on any finding not acknowledged here; docs/security.md lists them.
 */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${ruleId}`, reason });
}

/** AwsSolutions-IAM5 for exactly these resources (ARNs or CDK tokens of them) of a policy under `scope`. */
export function acknowledgeWildcards(scope: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(scope);
  for (const resource of resources) acknowledge(scope, `IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`, reason);
}

/** CDK's own singleton helpers (custom-resource providers, bucket deployment, bucket notifications) use AWSLambdaBasicExecutionRole. */
export const CDK_HELPER_ROLE = 'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** Construct ids of CDK's singleton helper functions, created at stack level by the constructs that need them. */
const CDK_HELPERS = [/^AWS679f53fac002430cb0da5b7982bd2287$/, /^BucketNotificationsHandler[0-9a-f]+$/, /^Custom::CDKBucketDeployment[0-9A-F]+$/];

/**
 * CDK's own helpers (the custom-resource provider of DescribeIotEndpoint, the bucket-notification
 * handler, the bucket deployment of the viewer app) run with AWSLambdaBasicExecutionRole, and the
 * bucket deployment on the Python runtime CDK pins: neither is ours to change short of forking CDK.
 * Call once every construct of the stack exists.
 */
export function acknowledgeCdkHelpers(stack: Stack): void {
  for (const helper of stack.node.children.filter((c) => CDK_HELPERS.some((re) => re.test(c.node.id)))) {
    acknowledge(helper, CDK_HELPER_ROLE, "CDK's own singleton helper function: CDK gives it AWSLambdaBasicExecutionRole (logs only)");
    if (helper.node.id.startsWith('Custom::CDKBucketDeployment')) {
      acknowledge(helper, 'L1', "CDK's BucketDeployment runs on the Python runtime CDK pins (upgraded with aws-cdk-lib)");
      for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
        acknowledge(helper, `IAM5[Action::${action}]`, "CDK's BucketDeployment: copies the app from CDK's asset bucket into the site bucket (grants made by CDK)");
      }
    }
  }
}
