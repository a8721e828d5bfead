import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

/**
 * Where the stack's access logs go: S3 server access logs of the snapshot, release and viewer-site
 * buckets (who read a picture, who uploaded a package) and CloudFront's standard logs of the viewer,
 * each under its own prefix, expired after `retentionDays`. API Gateway's access log is a log group
 * (infra/viewer.ts). Kept on stack deletion like the buckets it describes.
 */
export const ACCESS_LOG_PREFIXES = {
  snapshots: 's3/snapshots/',
  releases: 's3/releases/',
  viewerSite: 's3/viewer-site/',
  cloudfront: 'cloudfront/',
} as const;

/** Feature flag: S3 log delivery is granted by bucket policy (AWS's recommendation) rather than the LogDeliveryWrite ACL. */
export const SERVER_ACCESS_LOGS_BY_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export class AccessLogs extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: { retentionDays: number }) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 server access logging delivers only to SSE-S3 buckets (not SSE-KMS).
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logging writes through an ACL grant to its log-delivery account, so the
      // bucket must allow ACLs; the bucket owner still owns what is written.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(props.retentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.bucket, 'S1', 'this is the access-log bucket itself: logging its reads into itself would log its own log deliveries');
  }
}
