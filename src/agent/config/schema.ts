import { FACILITIES, type Facility } from '../syslog.js';
import { CAMERA_ACCESS_MODES, KEY_TYPES, LOG_FORMATS, LOG_LEVELS, type ConfigSchema, type RawConfig } from './agent-config.js';

/** The manifest's reverseProxy target points here; a site that changes localApi.port loses /local/cloudcam/api/. */
export const LOCAL_API_DEFAULT_PORT = 2001;

/**
 * One schema documents and validates every key; keys.ts derives its environment variable from the key
 * path and scripts/gen-config-docs.mjs renders docs/config.md from it.
 */
export const configSchema: ConfigSchema<RawConfig> = {
  thingName: {
    doc: 'AWS IoT thing name of this camera; also its MQTT client id, so each camera needs its own.',
    format: 'cloudcam-thing-name',
    default: null,
  },
  iot: {
    endpoint: {
      doc: 'AWS IoT data endpoint host (aws iot describe-endpoint --endpoint-type iot:Data-ATS), or the devcloud broker host.',
      format: 'cloudcam-endpoint',
      default: null,
    },
    port: {
      doc: 'MQTT over TLS port: 8883, or 443 (then the agent sends ALPN x-amzn-mqtt-ca, for networks that only let HTTPS out).',
      format: 'cloudcam-port',
      default: 8883,
    },
    mqttVersion: {
      doc: 'MQTT protocol version: "5" (reason codes, session expiry) or "3.1.1".',
      format: 'cloudcam-mqtt-version',
      default: 5,
    },
    keepaliveSeconds: {
      doc: 'MQTT keep-alive; the broker drops the connection (and publishes the last will) after 1.5x this without traffic.',
      format: 'cloudcam-keepalive',
      default: 60,
    },
    caPath: {
      doc: 'CA certificate (PEM) that signed the broker certificate: AmazonRootCA1.pem for AWS. Relative paths start at the config file.',
      format: 'cloudcam-ca-file',
      default: null,
    },
    certPath: {
      doc: 'Device certificate (PEM) registered in AWS IoT and attached to this thing. Relative paths start at the config file.',
      format: 'cloudcam-cert-file',
      default: null,
    },
    keyPath: {
      doc: 'Private key (PEM) of the device certificate. Relative paths start at the config file.',
      format: 'cloudcam-key-file',
      default: null,
    },
    reconnect: {
      minMs: {
        doc: 'First reconnect window; each failed attempt doubles it (full jitter: the delay is random within the window).',
        format: 'cloudcam-ms',
        default: 1000,
      },
      maxMs: {
        doc: 'Cap on the reconnect window; the agent never gives up, it retries at most this far apart.',
        format: 'cloudcam-ms',
        default: 120_000,
      },
    },
    connectTimeoutMs: {
      doc: 'How long one attempt (TCP, TLS and CONNACK) may take before it counts as failed.',
      format: 'cloudcam-ms',
      default: 20_000,
    },
  },
  camera: {
    url: {
      doc: 'VAPIX base URL; http://127.0.0.1 is the camera the agent runs on.',
      format: 'cloudcam-camera-url',
      default: 'http://127.0.0.1',
    },
    access: {
      doc: 'How the agent gets VAPIX credentials. auto: from the camera over D-Bus (AXIS OS 11.9+ service account, kept in memory only) when it offers them, else camera.username/password; service-account or configured force one of the two.',
      format: CAMERA_ACCESS_MODES,
      default: 'auto',
    },
    serviceAccountUrl: {
      doc: "VAPIX base URL for service-account credentials: the camera's local virtual host, the only place they are valid. Change it only for tests.",
      format: 'cloudcam-camera-url',
      default: 'http://127.0.0.12',
    },
    username: {
      doc: 'VAPIX user for digest authentication (an account with viewer rights suffices for snapshots). Not needed on a camera that offers a service account (camera.access).',
      format: String,
      default: '',
    },
    password: {
      doc: 'Password of the VAPIX user; optional where the service account is used.',
      format: String,
      default: '',
      sensitive: true,
    },
    timeoutMs: {
      doc: 'Timeout of one VAPIX request.',
      format: 'cloudcam-ms',
      default: 10_000,
    },
  },
  snapshot: {
    resolution: {
      doc: 'Default JPEG resolution (jpg/image.cgi resolution=); a request may override it.',
      format: 'cloudcam-resolution',
      default: '1920x1080',
    },
    compression: {
      doc: 'Default JPEG compression 0-100 (higher = smaller file); a request may override it.',
      format: 'cloudcam-percent',
      default: 30,
    },
    maxBytes: {
      doc: 'Largest JPEG the agent uploads; a request may only lower it.',
      format: 'cloudcam-bytes',
      default: 10 * 1024 * 1024,
    },
    captureTimeoutMs: {
      doc: 'Timeout of one JPEG capture.',
      format: 'cloudcam-ms',
      default: 15_000,
    },
    uploadTimeoutMs: {
      doc: 'Timeout of one upload to the presigned POST URL.',
      format: 'cloudcam-ms',
      default: 60_000,
    },
    allowedUploadHosts: {
      doc: "Hosts a presigned upload URL may point at (https only): your deployment's bucket host, e.g. {bucket}.s3.{region}.amazonaws.com (stack output UploadHost; devcloud writes its own). Exact host (default port only), host:port, or *.domain for any subdomain. Required: the agent does not start with an empty list.",
      format: 'cloudcam-upload-hosts',
      default: [],
    },
    insecureHttpUploadHosts: {
      doc: 'Development only: exact hosts that may receive uploads over plain http, e.g. devcloud S3: host:port, or host alone for port 80 only.',
      format: 'cloudcam-insecure-hosts',
      default: [],
    },
  },
  schedule: {
    cron: {
      doc: 'When the camera asks for a snapshot by itself (node-cron syntax, 5 or 6 fields); "" turns the schedule off.',
      format: 'cloudcam-cron',
      default: '',
    },
    timezone: {
      doc: 'Time zone of the cron schedule (IANA name); "" uses the system zone.',
      format: 'cloudcam-timezone',
      default: '',
    },
  },
  events: {
    triggers: {
      doc: 'Camera events that upload a snapshot at once with the standing upload grant (docs/protocol.md, "Event snapshots"): each {name, topic, when?, cooldownSeconds, resolution?, onInitialState?}, e.g. {"name": "motion", "topic": "tns1:VideoSource/MotionAlarm", "when": {"State": "1"}, "cooldownSeconds": 10}. topic is a topic filter as Axis documents it: an exact topic, "X//." for X and everything below it, "X//" for everything below X. One event fires each matching trigger once. A stateful event\'s state as the camera reports it at subscription fires nothing (motion still going on after a reconnect is not a new event) unless onInitialState is true, and then only when the agent did not know that state. [] turns event snapshots off.',
      format: 'cloudcam-event-triggers',
      default: [],
    },
    capPerMinute: {
      doc: 'Most event snapshots per minute over all triggers; the rest are dropped and counted.',
      format: 'cloudcam-count',
      default: 30,
    },
    queue: {
      maxCount: {
        doc: 'Most event snapshots kept on disk while offline or without a valid grant; the oldest are dropped first.',
        format: 'cloudcam-count',
        default: 100,
      },
      maxBytes: {
        doc: 'Most bytes of event snapshots kept on disk; the oldest are dropped first.',
        format: 'cloudcam-bytes',
        default: 20 * 1024 * 1024,
      },
    },
    preBuffer: {
      frames: {
        doc: 'Pre-event buffer: how many recent frames the agent keeps in memory so an event also uploads the frame nearest its time (key ending .pre.jpg); 0 turns it off. It captures a frame over VAPIX at events.preBuffer.fps all the time: leave it off on small cameras.',
        format: 'cloudcam-frames',
        default: 0,
      },
      fps: {
        doc: 'Pre-event buffer: frames captured per second.',
        format: 'cloudcam-fps',
        default: 2,
      },
      maxBytes: {
        doc: 'Pre-event buffer: most bytes of JPEG kept in memory; the oldest frames are dropped first.',
        format: 'cloudcam-bytes',
        default: 4 * 1024 * 1024,
      },
      resolution: {
        doc: 'Pre-event buffer: resolution of the buffered frames (lower keeps memory and camera load down).',
        format: 'cloudcam-resolution',
        default: '1280x720',
      },
    },
  },
  jobs: {
    enabled: {
      doc: 'Take remote operations from AWS IoT Jobs (docs/protocol.md, "Jobs"): on every connect the agent asks for pending jobs and runs them one at a time. false: the agent never subscribes to its Jobs topics.',
      format: 'cloudcam-boolean',
      default: true,
    },
    stepTimeoutMinutes: {
      doc: 'stepTimeoutInMinutes sent when the agent starts a job: AWS IoT Jobs ends the execution TIMED_OUT if it is not finished (or its timer renewed by the operation) within this time, and the agent aborts the operation then too.',
      format: 'cloudcam-step-timeout',
      default: 15,
    },
  },
  live: {
    enabled: {
      doc: 'Answer live requests (cloudcam/{thing}/live/request from the viewer API): the agent then becomes the WebRTC master of its KVS signalling channel cloudcam-{thing} and forwards the camera\'s own H.264 (one RTSP session, no transcoding) to each viewer. false: the agent never subscribes to the request topic.',
      format: 'cloudcam-boolean',
      default: true,
    },
    maxViewers: {
      doc: 'Most viewers at once; an offer beyond it gets no answer and a warning in the log, and the viewer API refuses new viewers once the shadow\'s reported.live.viewers reaches it. Each viewer costs the camera CPU for encryption.',
      format: 'cloudcam-max-viewers',
      default: 4,
    },
    idleSeconds: {
      doc: 'Seconds after the last viewer leaves (or after a live request nobody joins) before the agent closes the camera\'s RTSP session and the signalling connection.',
      format: 'cloudcam-idle-seconds',
      default: 30,
    },
    rtspPort: {
      doc: 'The camera\'s RTSP port on the host of camera.url (never the service account\'s virtual host): the stream is rtsp://HOST:PORT/axis-media/media.amp?videocodec=h264, authenticated with live.rtspUsername, else the VAPIX credentials.',
      format: 'port',
      default: 554,
    },
    credentialsEndpoint: {
      doc: 'AWS IoT credentials provider, https://HOST (aws iot describe-endpoint --endpoint-type iot:CredentialProvider); the agent trades its device certificate for short-lived KVS credentials there. "" = live view not set up: live requests fail with this fix.',
      format: 'cloudcam-optional-https-url',
      default: '',
    },
    roleAlias: {
      doc: 'The role alias whose role lets a camera be master of its own channel only (the stack output LiveRoleAlias; devcloud writes its own). "" = live view not set up.',
      format: 'cloudcam-optional-role-alias',
      default: '',
    },
    region: {
      doc: 'AWS region of the KVS signalling channels; "" = the region in iot.endpoint (…iot.REGION.amazonaws.com).',
      format: 'cloudcam-optional-region',
      default: '',
    },
    kvsEndpoint: {
      doc: 'Kinesis Video Streams control plane, https://HOST[:PORT]; "" = https://kinesisvideo.REGION.amazonaws.com.',
      format: 'cloudcam-optional-https-url',
      default: '',
    },
    rtspUsername: {
      doc: 'Camera account for the RTSP stream of live view (viewer group; made by `cloudcam setup live`, which stores it in the app parameter LiveRtspUsername). "" = the VAPIX credentials, which an ACAP service account cannot use on RTSP (the camera answers 401; AxisCommunications/acap-documentation#113).',
      format: String,
      default: '',
    },
    rtspPassword: {
      doc: 'Password of live.rtspUsername (app parameter LiveRtspPassword, set by `cloudcam setup live`; never logged).',
      format: String,
      default: '',
      sensitive: true,
    },
    caPath: {
      doc: 'CA certificate (PEM) that signed the credentials provider\'s and the KVS endpoints\' certificates; "" = iot.caPath for the credentials provider and the system\'s CAs for KVS (AWS). devcloud writes its own CA here.',
      format: 'cloudcam-optional-path',
      default: '',
    },
  },
  stateDir: {
    doc: 'Writable directory for persistent agent state (handled request ids). Relative paths start at the config file.',
    format: 'cloudcam-dir',
    default: 'localdata',
  },
  log: {
    level: {
      doc: 'Lowest severity that is logged.',
      format: LOG_LEVELS,
      default: 'info',
    },
    format: {
      doc: 'syslog-stdout: one line per event with a `<N>` severity prefix (the camera system log keeps it); json: pino JSON; pretty: for people.',
      format: LOG_FORMATS,
      default: 'syslog-stdout',
    },
    syslog: {
      url: {
        doc: 'Also send every line as RFC 5424 syslog to a collector: udp://HOST:PORT or tcp://HOST:PORT (octet-counted framing); "" = off. Lines are dropped, and counted, while the collector is unreachable; the agent never waits for it.',
        format: 'cloudcam-syslog-url',
        default: '',
      },
      facility: {
        doc: 'Syslog facility of the lines sent to the collector.',
        format: Object.keys(FACILITIES) as Facility[],
        default: 'daemon',
      },
      appName: {
        doc: 'APP-NAME field of the RFC 5424 lines.',
        format: 'cloudcam-syslog-app-name',
        default: 'cloudcam',
      },
    },
  },
  shadowName: {
    doc: 'Name of the named device shadow that carries snapshot requests.',
    format: 'cloudcam-shadow-name',
    default: 'cloudcam',
  },
  localApi: {
    port: {
      doc: 'Loopback port of the local API (GET /status, POST /certs) that the camera reverse-proxies, admin only, as /local/cloudcam/api/ (manifest reverseProxy target); 0 picks a free port.',
      format: 'port',
      default: LOCAL_API_DEFAULT_PORT,
    },
    allowedPeerUids: {
      doc: "User ids of the processes that may use the local API (the peer's uid, read from /proc/net/tcp). [] = automatic: the agent's own uid, root, and the owner of the sockets listening on ports 80/443 (the camera's web server). Set the web server's uid here if its workers run as another user.",
      format: 'cloudcam-uid-list',
      default: [],
    },
    identityTrialMs: {
      doc: 'A certificate installed through the local API that has not connected within this many ms is rolled back to the previous one.',
      format: 'cloudcam-ms',
      default: 120_000,
    },
  },
  provisioning: {
    claimCertPath: {
      doc: 'Fleet provisioning by claim: the claim certificate (PEM) shipped in the bundle. When set, a camera without an identity of its own makes a key and CSR, enrols (CreateCertificateFromCsr, RegisterThing) and stores its identity at iot.certPath/iot.keyPath (default: STATE_DIR/identity/); thingName and those files may then be absent. "" = off.',
      format: 'cloudcam-optional-path',
      default: '',
    },
    claimKeyPath: {
      doc: 'Private key (PEM) of the claim certificate. Relative paths start at the config file.',
      format: 'cloudcam-optional-path',
      default: '',
    },
    templateName: {
      doc: 'Fleet provisioning template name (the stack output ProvisioningTemplateName; devcloud writes its own).',
      format: 'cloudcam-optional-template-name',
      default: '',
    },
    keyType: {
      doc: 'Key made on the camera for its own certificate.',
      format: KEY_TYPES,
      default: 'ec-p256',
    },
  },
  update: {
    releaseKeysDir: {
      doc: 'Folder of trusted release public keys for cloudcam.update, one {keyId}.pem (ECDSA P-256) each; the package ships certs/release-keys. Relative paths start at the config file (in a package: the package folder). A missing folder trusts no key.',
      format: 'cloudcam-optional-path',
      default: 'certs/release-keys',
    },
    extraReleaseKeyPath: {
      doc: 'One more trusted release public key, {keyId}.pem ("" = none): devcloud writes its dev release key here for its own agents. Never set it on a production camera.',
      format: 'cloudcam-optional-path',
      default: '',
    },
    allowedDownloadHosts: {
      doc: "Hosts an update package URL (the presigned GET in the job document) may point at, https only: your release bucket's host, e.g. {bucket}.s3.{region}.amazonaws.com (devcloud writes its own). Exact host, host:port or *.domain. Empty: every cloudcam.update job fails with this fix.",
      format: 'cloudcam-upload-hosts',
      default: [],
    },
    insecureHttpDownloadHosts: {
      doc: 'Development only: exact hosts (host:port) an update package may be downloaded from over plain http, e.g. devcloud S3.',
      format: 'cloudcam-insecure-hosts',
      default: [],
    },
    maxPackageBytes: {
      doc: 'Largest update package the agent downloads; a job naming a larger one is rejected, and a download is cut at the size the job names.',
      format: 'cloudcam-bytes',
      default: 200 * 1024 * 1024,
    },
    downloadTimeoutMs: {
      doc: 'Longest an update package download may take.',
      format: 'cloudcam-ms',
      default: 600_000,
    },
    connectBoundMs: {
      doc: 'After an update, the new version must connect and pass its self-check within this many ms of its install, or it is rolled back to the previous package and the job fails with the reason. Set by the version that installs the update.',
      format: 'cloudcam-ms',
      default: 600_000,
    },
    maxStarts: {
      doc: 'Starts of a new version that end without it confirming itself before the update counts as a crash loop and is rolled back.',
      format: 'cloudcam-count',
      default: 3,
    },
  },
};

/** Fleet provisioning on: thingName, iot.certPath and iot.keyPath may be absent (they are made). */
export function claimModeSchema(): ConfigSchema<RawConfig> {
  const { thingName, iot } = configSchema;
  return {
    ...configSchema,
    thingName: { ...thingName, format: 'cloudcam-optional-thing-name' },
    iot: { ...iot, certPath: { ...iot.certPath, format: 'cloudcam-optional-path' }, keyPath: { ...iot.keyPath, format: 'cloudcam-optional-path' } },
  };
}
