import { Aws, CfnRule, Duration, Fn, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import { viewerContentSecurityPolicy, type ViewerCspOrigins } from '../src/viewer/csp.js';

/**
 * What the viewer's CloudFront distribution answers with and sits behind, besides its origins
 * (infra/viewer.ts): the security headers of every response, the optional custom domain with its
 * certificate, and the optional rate-based AWS WAF rule. docs/deploy.md says what each costs.
 */

/** A custom domain for the viewer: its ACM certificate must be in us-east-1 (CloudFront's rule). */
export interface ViewerDomain {
  name: string;
  certificateArn: string;
}

/**
 * The same CSP devcloud sends (src/viewer/csp.ts), plus HSTS, nosniff, no framing and no referrer, on
 * every response (the app's files and the API's answers alike). `override`: CloudFront's value wins
 * over anything an origin sends.
 */
export function securityHeadersPolicy(scope: Construct, id: string, origins: ViewerCspOrigins): cloudfront.ResponseHeadersPolicy {
  return new cloudfront.ResponseHeadersPolicy(scope, id, {
    comment: 'cloudcam viewer: CSP (src/viewer/csp.ts), HSTS, nosniff, no framing, no referrer',
    securityHeadersBehavior: {
      contentSecurityPolicy: { contentSecurityPolicy: viewerContentSecurityPolicy(origins), override: true },
      strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      contentTypeOptions: { override: true },
      frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      // Presigned picture URLs and share links must not travel in a Referer header.
      referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
    },
  });
}

const US_EAST_1_CERTIFICATE = /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The distribution's settings for a custom domain: only TLS 1.2 with the 2021 ciphers, SNI only (no dedicated IP cost). */
export function customDomainSettings(scope: Construct, domain: ViewerDomain): Pick<cloudfront.DistributionProps, 'domainNames' | 'certificate' | 'minimumProtocolVersion' | 'sslSupportMethod'> {
  if (!DOMAIN_NAME.test(domain.name)) throw new Error(`viewerDomainName "${domain.name}" is not a DNS name: give the viewer's host name, e.g. -c viewerDomainName=viewer.example.com`);
  if (!US_EAST_1_CERTIFICATE.test(domain.certificateArn)) {
    throw new Error(
      `viewerCertificateArn "${domain.certificateArn}" is not an ACM certificate ARN in us-east-1: CloudFront only takes certificates from us-east-1 (request one there for ${domain.name}, validate it by DNS, and pass its ARN)`,
    );
  }
  return {
    domainNames: [domain.name],
    certificate: acm.Certificate.fromCertificateArn(scope, 'Certificate', domain.certificateArn),
    minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    sslSupportMethod: cloudfront.SSLMethod.SNI,
  };
}

/**
 * A web ACL with one rate-based rule: an IP address sending more than `limit` requests in 5 minutes is
 * blocked until its rate falls. Web ACLs for CloudFront exist only in us-east-1, so the stack must be
 * deployed there to have one: a known other region is refused at synth, and a CloudFormation rule
 * makes a deployment elsewhere fail up front with that reason instead of half-way.
 */
export function rateLimitWebAcl(scope: Construct, limit: number): wafv2.CfnWebACL {
  if (!Number.isInteger(limit) || limit < 10 || limit > 2_000_000_000) {
    throw new Error(`viewerWafRateLimit is ${limit}: give requests per IP address per 5 minutes, a whole number from 10 (AWS WAF's minimum), e.g. -c viewerWafRateLimit=1000`);
  }
  const region = Stack.of(scope).region;
  if (!Token.isUnresolved(region) && region !== 'us-east-1') {
    throw new Error(`viewerWafRateLimit: the stack is for ${region}, but a web ACL for CloudFront can only be made in us-east-1. Deploy the stack there, or leave viewerWafRateLimit out`);
  }
  // An environment-agnostic stack learns its region only at deploy: this rule refuses it there, before any resource is made.
  new CfnRule(scope, 'WafRegion', {
    assertions: [
      {
        assert: Fn.conditionEquals(Aws.REGION, 'us-east-1'),
        assertDescription: 'viewerWafRateLimit: a web ACL for CloudFront can only be made in us-east-1. Deploy the stack there, or leave viewerWafRateLimit out.',
      },
    ],
  });
  const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true });
  return new wafv2.CfnWebACL(scope, 'Waf', {
    scope: 'CLOUDFRONT',
    description: 'cloudcam viewer: block an IP address over its request rate',
    defaultAction: { allow: {} },
    visibilityConfig: metric('cloudcam-viewer'),
    rules: [
      {
        name: 'rate-per-ip',
        priority: 0,
        action: { block: {} },
        statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
        visibilityConfig: metric('cloudcam-viewer-rate-per-ip'),
      },
    ],
  });
}
