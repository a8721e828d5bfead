// The agent configuration's public face; the rest of the code base imports from here only.
//   agent-config.ts  the AgentConfig type the agent sees, the raw shape convict holds, the schema's type
//   schema.ts        every key: doc, format, default (docs/config.md is rendered from it)
//   formats.ts       the custom convict formats by name (FormatName), registered with convict
//   format-kinds.ts  builders for formats used more than once (number ranges, host lists, files)
//   keys.ts          dotted key paths: schema leaves, the CLOUDCAM_* variable of each, lookups
//   load.ts          file + layers + environment -> AgentConfig
//   checks.ts        checks across keys and on the files they name
//   explain.ts       convict's error text -> one problem per key with the fix
//   docs.ts          docs/config.md
export type { AgentConfig, CameraAccessMode, LogFormat, LogLevel } from './agent-config.js';
export { ConfigError } from './explain.js';
export { IDENTITY_DIR, loadAgentConfig, readConfigFile, type ConfigLayer } from './load.js';
export { LOCAL_API_DEFAULT_PORT } from './schema.js';
