import path from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
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

/**
 * The viewer in AWS (docs/viewer.md, docs/deploy.md): the static app in a private bucket behind
 * CloudFront with origin access control; `/api/*` and `/s/*` on the same CloudFront domain forwarded
 * to an HTTP API whose one Lambda is the viewer handler; a Cognito user pool with a public app client
 * (code flow with PKCE, no secret) and its hosted domain; the thumbnail Lambda on the snapshot
 * bucket's ObjectCreated notification; the share-link key as a generated Secrets Manager secret.
 */
export interface ViewerProps {
  bucket: s3.Bucket;
  shadowName: string;
  thingNamePrefix: string;
  /** `{lambdaDir}/viewer-api`, `{lambdaDir}/thumbnail` (infra/bundle.ts). */
  lambdaDir: string;
  /** The bundled web app (index.html, app.js, app.css): src/viewer/web-bundle.ts writeWebApp(). */
  webDir: string;
  /** Globally unique prefix of the Cognito hosted domain (`{prefix}.auth.{region}.amazoncognito.com`). */
  cognitoDomainPrefix: string;
  /** The cloud handler's environment: "Snapshot now" runs its code. */
  handlerEnvironment: Record<string, string>;
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
    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false, // an operator invites viewers
      signInAliases: { username: true, email: true },
      passwordPolicy: { minLength: 12 },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.cognitoDomainPrefix } });

    // --- the app's bucket and CloudFront ---------------------------------------------------------
    const site = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });

    const apiRole = (this.apiRole = new iam.Role(this, 'ApiRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cloudcam viewer API' }));
    const apiLogs = new logs.LogGroup(this, 'ApiLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    apiLogs.grantWrite(apiRole);
    const shareKey = new secrets.Secret(this, 'ShareKey', {
      description: 'cloudcam viewer: HMAC key of share links (rotating it revokes every link)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    shareKey.grantRead(apiRole);
    // Presigned GETs are signed with the role: S3 checks s3:GetObject when the browser uses them.
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    // Snapshot now presigns POSTs for snapshot keys (any thing's prefix); revocations are written the same way.
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] }));
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:GetThingShadow', 'iot:UpdateThingShadow'], resources: [`${iotArn}:thing/*/${props.shadowName}`] }));
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:DescribeThing'], resources: [`${iotArn}:thing/${props.thingNamePrefix}*`] }));
    // ListThings has no resource type (Service Authorization Reference): IAM accepts only "*".
    apiRole.addToPolicy(new iam.PolicyStatement({ actions: ['iot:ListThings'], resources: ['*'] }));

    const apiFunction = nodeFunction(this, 'Api', path.join(props.lambdaDir, 'viewer-api'), apiRole, apiLogs, 256);

    this.api = new HttpApi(this, 'Http', {
      description: 'cloudcam viewer API (the handler authenticates every /api call with the Cognito access token)',
      defaultIntegration: new HttpLambdaIntegration('Handler', apiFunction),
    });
    const apiDomain = `${this.api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;

    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: new origins.HttpOrigin(apiDomain),
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    };
    // The sign-in callback (/callback) is the app's own page. A viewer-request function rather than a
    // distribution error response: those apply to every behaviour and would turn the API's 403s into 200s.
    const callback = new cloudfront.Function(this, 'Callback', {
      code: cloudfront.FunctionCode.fromInline("function handler(event) { var r = event.request; if (r.uri === '/callback') r.uri = '/index.html'; return r; }"),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    this.distribution = new cloudfront.Distribution(this, 'Cdn', {
      comment: 'cloudcam viewer',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(site),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        functionAssociations: [{ function: callback, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: { '/api/*': apiBehavior, '/s/*': apiBehavior },
    });
    const appUrl = `https://${this.distribution.distributionDomainName}`;

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
    for (const [k, v] of Object.entries(props.handlerEnvironment)) apiFunction.addEnvironment(k, v);

    new s3deploy.BucketDeployment(this, 'App', {
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

    // --- thumbnails ----------------------------------------------------------------------------
    const thumbRole = new iam.Role(this, 'ThumbnailRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cloudcam thumbnails' });
    const thumbLogs = new logs.LogGroup(this, 'ThumbnailLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    thumbLogs.grantWrite(thumbRole);
    thumbRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    thumbRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(`${THUMBNAIL_PREFIX}*`)] }));
    const thumbFunction = nodeFunction(this, 'Thumbnail', path.join(props.lambdaDir, 'thumbnail'), thumbRole, thumbLogs, 1024);
    thumbFunction.addEnvironment('CLOUDCAM_BUCKET', bucket.bucketName);
    // Only .jpg objects; the handler also skips its own thumbnails and anything not a snapshot key.
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(thumbFunction), { suffix: '.jpg' });

    new CfnOutput(stack, 'ViewerUrl', { value: appUrl, description: 'the viewer web app' });
    new CfnOutput(stack, 'ViewerUserPoolId', { value: this.userPool.userPoolId, description: 'add viewers here (aws cognito-idp admin-create-user)' });
  }
}

function nodeFunction(scope: Construct, id: string, dir: string, role: iam.Role, logGroup: logs.LogGroup, memorySize: number): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    code: lambda.Code.fromAsset(dir),
    handler: 'index.handler',
    memorySize,
    timeout: Duration.seconds(15),
    role,
    logGroup,
  });
}
