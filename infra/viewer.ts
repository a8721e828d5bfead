import path from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { THUMBNAIL_PREFIX } from '../src/viewer/api/keys.js';
import { ORIGIN_VERIFY_HEADER } from '../src/viewer/api/origin-verify.js';
import { kvsSignallingOrigin } from '../src/viewer/csp.js';
import { ACCESS_LOG_PREFIXES } from './access-logs.js';
import { acknowledge, acknowledgeWildcards } from './nag.js';
import { customDomainSettings, rateLimitWebAcl, securityHeadersPolicy, type ViewerDomain } from './viewer-edge.js';

/**
 * The viewer in AWS (docs/viewer.md, docs/deploy.md): the static app in a private bucket behind
 * CloudFront with origin access control; `/api/*` and `/s/*` on the same CloudFront domain forwarded
 * to an HTTP API whose one Lambda is the viewer handler; a Cognito user pool with a public app client
 * (code flow with PKCE, no secret) and its hosted domain; the thumbnail Lambda on the snapshot
 * bucket's ObjectCreated notification; the share-link key as a generated Secrets Manager secret.
 * The API answers only through CloudFront (a secret origin header, src/viewer/api/origin-verify.ts),
 * its stage is throttled and logged, its Lambda's concurrency is capped.
 */
export type ViewerMfa = 'required' | 'optional' | 'off';

/** What an operator chooses (CDK context, infra/settings.ts). */
export interface ViewerSettings {
  /** The bundled web app (index.html, app.js, app.css): src/viewer/web-bundle.ts writeWebApp(). */
  webDir: string;
  /** Globally unique prefix of the Cognito hosted domain (`{prefix}.auth.{region}.amazoncognito.com`). */
  cognitoDomainPrefix: string;
  /** Second factor (TOTP apps only, no SMS) for viewers; default optional (each user may turn it on). */
  mfa?: ViewerMfa;
  /** The API stage's steady request rate (per second) and burst, over all callers together. */
  apiThrottle?: { rateLimit: number; burstLimit: number };
  /** Reserved concurrency of the API Lambda: at most this many run at once (and they are always available); 'off' for none. */
  apiConcurrency?: number | 'off';
  /** The viewer under a custom domain (TLS 1.2+ only) instead of CloudFront's default one. */
  domain?: ViewerDomain;
  /** Adds AWS WAF with a rate-based rule: requests per IP address per 5 minutes (stack in us-east-1 only). */
  wafRateLimit?: number;
}

export const VIEWER_DEFAULTS = { mfa: 'optional', apiThrottle: { rateLimit: 25, burstLimit: 50 }, apiConcurrency: 10 } as const satisfies Omit<ViewerSettings, 'webDir' | 'cognitoDomainPrefix'>;

export interface ViewerProps extends ViewerSettings {
  bucket: s3.Bucket;
  /** scheme://host of the presigned GETs (the bucket's regional host): the CSP's img-src. */
  imagesOrigin: string;
  /** Access logs of CloudFront and the site bucket (infra/access-logs.ts). */
  accessLogs: s3.Bucket;
  shadowName: string;
  thingNamePrefix: string;
  /** `{lambdaDir}/viewer-api`, `{lambdaDir}/thumbnail` (infra/bundle.ts). */
  lambdaDir: string;
  /** The cloud handler's environment: "Snapshot now" runs its code. */
  handlerEnvironment: Record<string, string>;
  /** The snapshot bucket's expiry: event keys dated further back are not listed (issue 20). */
  eventDays?: number;
}

export class CloudcamViewer extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly userPool: cognito.UserPool;
  readonly api: HttpApi;
  /** The viewer API Lambda's role (infra/live.ts grants it the signalling channels). */
  readonly apiRole: iam.Role;

  constructor(scope: Construct, id: string, props: ViewerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const iotArn = `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}`;
    const { bucket } = props;

    // --- sign-in -----------------------------------------------------------------------------
    const mfa = props.mfa ?? VIEWER_DEFAULTS.mfa;
    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false, // an operator invites viewers
      signInAliases: { username: true, email: true },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true },
      // TOTP only: SMS would need an SNS origination identity, costs per message and can be hijacked by SIM swap.
      mfa: { required: cognito.Mfa.REQUIRED, optional: cognito.Mfa.OPTIONAL, off: cognito.Mfa.OFF }[mfa],
      ...(mfa === 'off' ? {} : { mfaSecondFactor: { otp: true, sms: false } }),
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (mfa !== 'required') {
      acknowledge(this.userPool, 'COG2', `MFA is ${mfa} by the operator's choice (viewerMfa=${mfa}; viewerMfa=required makes every viewer set up a TOTP app)`);
    }
    acknowledge(
      this.userPool,
      'COG8',
      "the Plus feature plan (threat protection: compromised-credential and adaptive sign-in checks) is billed per monthly active user; a handful of invited viewers with strong passwords and TOTP do not need it (docs/deploy.md)",
    );
    const domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.cognitoDomainPrefix } });

    // --- the app's bucket and CloudFront ---------------------------------------------------------
    const site = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.viewerSite,
    });

    const apiRole = (this.apiRole = new iam.Role(this, 'ApiRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cloudcam viewer API' }));
    const apiLogs = new logs.LogGroup(this, 'ApiLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    apiLogs.grantWrite(apiRole);
    const shareKey = new secrets.Secret(this, 'ShareKey', {
      description: 'cloudcam viewer: HMAC key of share links (rotating it revokes every link)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    shareKey.grantRead(apiRole);
    // Rotation is by hand on purpose: a new key revokes every share link already handed out.
    acknowledge(shareKey, 'SMG4', 'rotating the share-link key revokes every share link; an operator rotates it when they mean that (docs/viewer.md)');
    // CloudFront adds it to every request to the API (a dynamic reference: the value is not in the
    // template); the API refuses requests without it (AWS's pattern for keeping an origin behind CloudFront).
    const originSecret = new secrets.Secret(this, 'OriginSecret', {
      description: 'cloudcam viewer: the header value CloudFront adds to API requests (requests without it are refused)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    originSecret.grantRead(apiRole);
    acknowledge(originSecret, 'SMG4', 'a rotated value must reach the CloudFront distribution in the same step: rotate it by redeploying after `aws secretsmanager put-secret-value` (docs/deploy.md)');
    // Presigned GETs are signed with the role: S3 checks s3:GetObject when the browser uses them.
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    // Snapshot now presigns POSTs for snapshot keys (any thing's prefix); revocations are written the same way.
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] }));
    const shadows = `${iotArn}:thing/${props.thingNamePrefix}*/${props.shadowName}`;
    const things = `${iotArn}:thing/${props.thingNamePrefix}*`;
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:GetThingShadow', 'iot:UpdateThingShadow'], resources: [shadows] }));
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:DescribeThing'], resources: [things] }));
    // ListThings has no resource type (Service Authorization Reference): IAM accepts only "*".
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:ListThings'], resources: ['*'] }));
    acknowledgeWildcards(apiRole, [bucket.arnForObjects('*')], "object keys are per camera and per day: the API reads any camera's pictures and presigns uploads for them");
    // Live view's go-live request (src/protocol/live-request.ts): published on each camera's own request topic, nothing else.
    const liveRequests = `${iotArn}:topic/cloudcam/${props.thingNamePrefix}*/live/request`;
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:Publish'], resources: [liveRequests] }));
    acknowledgeWildcards(apiRole, [shadows, things, liveRequests], 'every camera of the fleet (thing names are the fleet prefix + serial number): its named shadow, its thing, its live-request topic only');
    acknowledgeWildcards(apiRole, ['*'], 'iot:ListThings has no resource type: IAM accepts only "*" for it');

    const apiConcurrency = props.apiConcurrency ?? VIEWER_DEFAULTS.apiConcurrency;
    const apiFunction = nodeFunction(this, 'Api', path.join(props.lambdaDir, 'viewer-api'), apiRole, apiLogs, 256, apiConcurrency === 'off' ? undefined : apiConcurrency);

    // The default stage is made below, throttled and with an access log: HttpApi's own has neither.
    this.api = new HttpApi(this, 'Http', {
      description: 'cloudcam viewer API (the handler authenticates every /api call with the Cognito access token)',
      defaultIntegration: new HttpLambdaIntegration('Handler', apiFunction),
      createDefaultStage: false,
    });
    acknowledge(
      this.api,
      'APIG4',
      'the handler authorizes every /api call itself (Cognito access token, aws-jwt-verify) and /s/ share links by their HMAC token; an API Gateway authorizer cannot tell the two apart on the one default route',
    );
    const throttle = props.apiThrottle ?? VIEWER_DEFAULTS.apiThrottle;
    const accessLog = new logs.LogGroup(this, 'ApiAccessLog', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLog), format: apiAccessLogFormat() },
    });
    const apiDomain = `${this.api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;

    // Live view's signalling: GetSignalingChannelEndpoint gives each channel a host under the region's
    // kinesisvideo domain, so the CSP names that domain's wss:// hosts (docs/security.md, "Live view").
    const headers = securityHeadersPolicy(this, 'SecurityHeaders', { images: props.imagesOrigin, signIn: domain.baseUrl(), signalling: kvsSignallingOrigin(Aws.REGION) });
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: new origins.HttpOrigin(apiDomain, { customHeaders: { [ORIGIN_VERIFY_HEADER]: originSecret.secretValue.unsafeUnwrap() } }),
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      responseHeadersPolicy: headers,
    };
    // The sign-in callback (/callback) is the app's own page. A viewer-request function rather than a
    // distribution error response: those apply to every behaviour and would turn the API's 403s into 200s.
    const callback = new cloudfront.Function(this, 'Callback', {
      code: cloudfront.FunctionCode.fromInline("function handler(event) { var r = event.request; if (r.uri === '/callback') r.uri = '/index.html'; return r; }"),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    const waf = props.wafRateLimit !== undefined ? rateLimitWebAcl(this, props.wafRateLimit) : undefined;
    this.distribution = new cloudfront.Distribution(this, 'Cdn', {
      comment: 'cloudcam viewer',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(site),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: callback, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: { '/api/*': apiBehavior, '/s/*': apiBehavior },
      logBucket: props.accessLogs,
      logFilePrefix: ACCESS_LOG_PREFIXES.cloudfront,
      ...(props.domain ? customDomainSettings(this, props.domain) : {}),
      ...(waf ? { webAclId: waf.attrArn } : {}),
    });
    if (!props.domain) {
      acknowledge(
        this.distribution,
        'CFR4',
        "on CloudFront's own *.cloudfront.net certificate CloudFront itself sets the TLS floor (TLSv1); viewerDomainName + viewerCertificateArn give TLSv1.2_2021 (docs/deploy.md)",
      );
    }
    if (!waf) acknowledge(this.distribution, 'CFR2', 'AWS WAF is off by default (a web ACL costs a monthly fee); -c viewerWafRateLimit=N adds a rate-based rule (docs/deploy.md)');
    acknowledge(this.distribution, 'CFR1', 'no geographic restriction: viewers sign in from wherever they are; sign-in and the API guard access, not the country');
    const appUrl = props.domain ? `https://${props.domain.name}` : `https://${this.distribution.distributionDomainName}`;

    const client = this.userPool.addClient('App', {
      generateSecret: false, // a browser app is a public client: PKCE instead of a secret
      authFlows: {},
      oAuth: { flows: { authorizationCodeGrant: true }, scopes: [cognito.OAuthScope.OPENID], callbackUrls: [`${appUrl}/callback`], logoutUrls: [appUrl] },
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
    });

    apiFunction.addEnvironment('CLOUDCAM_USER_POOL_ID', this.userPool.userPoolId);
    apiFunction.addEnvironment('CLOUDCAM_VIEWER_CLIENT_ID', client.userPoolClientId);
    apiFunction.addEnvironment('CLOUDCAM_SHARE_SECRET_ID', shareKey.secretArn);
    apiFunction.addEnvironment('CLOUDCAM_THING_PREFIX', props.thingNamePrefix);
    apiFunction.addEnvironment('CLOUDCAM_ORIGIN_SECRET_ID', originSecret.secretArn);
    apiFunction.addEnvironment('CLOUDCAM_VIEWER_ORIGIN', appUrl); // share links are made under the viewer's address
    if (props.eventDays !== undefined) apiFunction.addEnvironment('CLOUDCAM_EVENT_DAYS', String(props.eventDays));
    for (const [k, v] of Object.entries(props.handlerEnvironment)) apiFunction.addEnvironment(k, v);

    const deployment = new s3deploy.BucketDeployment(this, 'App', {
      destinationBucket: site,
      distribution: this.distribution,
      sources: [
        s3deploy.Source.asset(props.webDir),
        s3deploy.Source.jsonData('config.json', {
          authorizeUrl: `${domain.baseUrl()}/oauth2/authorize`,
          tokenUrl: `${domain.baseUrl()}/oauth2/token`,
          clientId: client.userPoolClientId,
          apiUrl: '',
        }),
      ],
    });
    acknowledgeWildcards(
      deployment.handlerRole,
      [site.arnForObjects('*'), `arn:${Aws.PARTITION}:s3:::cdk-hnb659fds-assets-${stack.account}-${stack.region}/*`, '*'],
      "CDK's BucketDeployment: replaces the app's files in the site bucket from CDK's asset bucket and invalidates the distribution (CreateInvalidation has no narrower resource)",
    );

    // --- thumbnails ----------------------------------------------------------------------------
    const thumbRole = new iam.Role(this, 'ThumbnailRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cloudcam thumbnails' });
    const thumbLogs = new logs.LogGroup(this, 'ThumbnailLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    thumbLogs.grantWrite(thumbRole);
    thumbRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    thumbRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(`${THUMBNAIL_PREFIX}*`)] }));
    acknowledgeWildcards(thumbRole, [bucket.arnForObjects('*')], 'reads whichever snapshot was just uploaded (keys are per camera and per day)');
    acknowledgeWildcards(thumbRole, [bucket.arnForObjects(`${THUMBNAIL_PREFIX}*`)], 'writes thumbnails under thumbnails/ only');
    const thumbFunction = nodeFunction(this, 'Thumbnail', path.join(props.lambdaDir, 'thumbnail'), thumbRole, thumbLogs, 1024);
    thumbFunction.addEnvironment('CLOUDCAM_BUCKET', bucket.bucketName);
    // Only .jpg objects; the handler also skips its own thumbnails and anything not a snapshot key.
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(thumbFunction), { suffix: '.jpg' });

    new CfnOutput(stack, 'ViewerUrl', { value: appUrl, description: 'the viewer web app' });
    new CfnOutput(stack, 'ViewerUserPoolId', { value: this.userPool.userPoolId, description: 'add viewers here (aws cognito-idp admin-create-user)' });
  }
}

/**
 * HTTP API access log: who called (address, user agent), when, what status, how long. No path: a
 * share link's token is its path (`/s/{token}`), and tokens must not land in a log.
 */
function apiAccessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      time: '$context.requestTime',
      ip: '$context.identity.sourceIp',
      userAgent: '$context.identity.userAgent',
      method: '$context.httpMethod',
      status: '$context.status',
      bytes: '$context.responseLength',
      latencyMs: '$context.responseLatency',
      integrationError: '$context.integrationErrorMessage',
    }),
  );
}

function nodeFunction(scope: Construct, id: string, dir: string, role: iam.Role, logGroup: logs.LogGroup, memorySize: number, reservedConcurrentExecutions?: number): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    code: lambda.Code.fromAsset(dir),
    handler: 'index.handler',
    memorySize,
    timeout: Duration.seconds(15),
    role,
    logGroup,
    ...(reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions } : {}),
  });
}
