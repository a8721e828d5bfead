/**
 * The V8 and libuv settings every package starts the agent with, and their override.
 *
 * Heap sizing and V8's worker threads are fixed when the process starts (`v8.setFlagsFromString`
 * cannot change them), so they travel as environment: a POSIX sh launcher (the ACAP app's
 * `setup.appName`, and the gateway's `cloudcam-launcher`) exports them and then `exec`s the runtime.
 * Measured on the shipped x64 single executable, idle: 61.5 → 54.9 MB RSS, private 18.0 → 15.9 MB,
 * snapshot p50 unchanged (docs/benchmarks.md). `--jitless` also turns off V8's baseline compiler, so
 * some packages start without it (RUNTIME_DEFAULTS_WITH_JIT; src/packaging/flavours.ts).
 *
 * Override: `{state dir}/runtime.env` (`localdata/runtime.env`; on a gateway /var/lib/cloudcam/runtime.env)
 * with the lines `NODE_OPTIONS=...`, `UV_THREADPOOL_SIZE=N` and/or `MALLOC_ARENA_MAX=N`; on a camera the
 * agent writes that file from the app parameters NodeOptions / UvThreadpoolSize / MallocArenaMax
 * (packaged-app.ts). Only the flags below
 * are accepted: NODE_OPTIONS would otherwise also take `--require`/`--import` (code from any file) or
 * `--inspect` (a debugger port), so whoever can write a parameter or the file must not gain more than
 * memory tuning. The launcher checks again (it is what actually applies the file).
 */

export const RUNTIME_FILE = 'runtime.env';

export interface RuntimeSettings {
  /** Words for NODE_OPTIONS; empty = none. */
  nodeOptions: string;
  uvThreadpoolSize: number;
  /**
   * glibc's MALLOC_ARENA_MAX: one arena for every thread (the main thread, libuv's pool, V8's worker
   * and the inspector's are few and mostly idle) instead of up to eight per core, each keeping freed
   * memory of its own. Measured on the shipped x64 executable, idle: −1.6 MB RSS and private on Node 26
   * (docs/benchmarks.md); 2 saved nothing.
   */
  mallocArenaMax: number;
}

export const RUNTIME_DEFAULTS: RuntimeSettings = {
  nodeOptions: '--jitless --max-semi-space-size=1 --v8-pool-size=1',
  uvThreadpoolSize: 1,
  mallocArenaMax: 1,
};

/**
 * The same without `--jitless`, for the targets where it made the first snapshot after start slower
 * under emulation (`--jitless` also turns off the baseline compiler; docs/benchmarks.md): each package
 * takes its defaults from src/packaging/flavours.ts.
 */
export const RUNTIME_DEFAULTS_WITH_JIT: RuntimeSettings = {
  nodeOptions: '--max-semi-space-size=1 --v8-pool-size=1',
  uvThreadpoolSize: 1,
  mallocArenaMax: 1,
};

/** NODE_OPTIONS words a setting may use: flag → largest number it takes (0 = a plain switch). */
const ALLOWED_FLAGS: Record<string, number> = {
  '--jitless': 0,
  '--no-jitless': 0,
  '--max-semi-space-size': 256,
  '--max-old-space-size': 65536,
  '--v8-pool-size': 64,
};
/** libuv's own upper bound (UV__THREADPOOL_SIZE / MAX_THREADPOOL_SIZE). */
export const MAX_UV_THREADPOOL_SIZE = 1024;
/** Bound for MALLOC_ARENA_MAX: glibc's own default is 8 per core; more is never useful here. */
export const MAX_MALLOC_ARENAS = 64;
/** The parameter value that asks for no NODE_OPTIONS at all (an empty parameter means "the default"). */
export const NO_NODE_OPTIONS = 'none';

/** Why a NODE_OPTIONS value is refused, or undefined when every word is allowed. */
export function nodeOptionsProblem(value: string): string | undefined {
  const words = value.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 1 && words[0] === NO_NODE_OPTIONS) return undefined;
  for (const word of words) {
    const [flag = '', num] = word.split('=', 2) as [string, string | undefined];
    const max = ALLOWED_FLAGS[flag];
    const ok = max !== undefined && (max === 0 ? num === undefined : num !== undefined && isCount(num, max));
    if (!ok) return `"${word}" is not allowed: use "${NO_NODE_OPTIONS}" or words among ${allowedList()}`;
  }
  return undefined;
}

export function uvThreadpoolSizeProblem(value: string): string | undefined {
  return isCount(value.trim(), MAX_UV_THREADPOOL_SIZE) ? undefined : `"${value}" must be a whole number from 1 to ${MAX_UV_THREADPOOL_SIZE}`;
}

export function mallocArenaMaxProblem(value: string): string | undefined {
  return isCount(value.trim(), MAX_MALLOC_ARENAS) ? undefined : `"${value}" must be a whole number from 1 to ${MAX_MALLOC_ARENAS}`;
}

function isCount(text: string, max: number): boolean {
  return /^[1-9]\d{0,5}$/.test(text) && Number(text) <= max;
}

function allowedList(): string {
  return Object.entries(ALLOWED_FLAGS)
    .map(([flag, max]) => (max === 0 ? flag : `${flag}=1..${max}`))
    .join(', ');
}

/** The runtime.env text for the given overrides (undefined = keep the default); checks them first. */
export function runtimeEnvFile(o: { nodeOptions?: string | undefined; uvThreadpoolSize?: string | undefined; mallocArenaMax?: string | undefined }): string {
  const lines = ['# Written by the cloudcam agent from the app parameters NodeOptions / UvThreadpoolSize / MallocArenaMax; read by the launcher at start.'];
  if (o.nodeOptions !== undefined) {
    const problem = nodeOptionsProblem(o.nodeOptions);
    if (problem) throw new RangeError(`NodeOptions ${problem}`);
    lines.push(`NODE_OPTIONS=${o.nodeOptions.trim().split(/\s+/).join(' ')}`);
  }
  if (o.uvThreadpoolSize !== undefined) {
    const problem = uvThreadpoolSizeProblem(o.uvThreadpoolSize);
    if (problem) throw new RangeError(`UvThreadpoolSize ${problem}`);
    lines.push(`UV_THREADPOOL_SIZE=${o.uvThreadpoolSize.trim()}`);
  }
  if (o.mallocArenaMax !== undefined) {
    const problem = mallocArenaMaxProblem(o.mallocArenaMax);
    if (problem) throw new RangeError(`MallocArenaMax ${problem}`);
    lines.push(`MALLOC_ARENA_MAX=${o.mallocArenaMax.trim()}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * POSIX sh that sets and exports NODE_OPTIONS, UV_THREADPOOL_SIZE and MALLOC_ARENA_MAX: `defaults`, then the lines of
 * the file named by the sh expression `fileExpr`, each checked with the same rules as above (a refused
 * line is reported on stderr with `<4>` and the default kept). `tag` prefixes the messages.
 */
export function runtimeSettingsShell(fileExpr: string, tag: string, defaults: RuntimeSettings = RUNTIME_DEFAULTS): string {
  const flagCases = Object.entries(ALLOWED_FLAGS)
    .map(([flag, max]) => (max === 0 ? `      ${flag}) ;;` : `      ${flag}=*) count_ok "\${w#*=}" ${max} || rc=1 ;;`))
    .join('\n');
  return `# V8/libuv settings (src/agent/runtime-settings.ts): measured defaults, overridable in ${fileExpr}.
node_options='${defaults.nodeOptions}'
uv_threads=${defaults.uvThreadpoolSize}
malloc_arenas=${defaults.mallocArenaMax}
count_ok() { case "$1" in ''|0*|*[!0-9]*) return 1 ;; esac; [ \${#1} -le 6 ] && [ "$1" -le "$2" ]; }
options_ok() {
  [ "$1" = ${NO_NODE_OPTIONS} ] && return 0
  rc=0
  set -f
  for w in $1; do
    case "$w" in
${flagCases}
      *) rc=1 ;;
    esac
  done
  set +f
  return $rc
}
settings=${fileExpr}
if [ -f "$settings" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      ''|'#'*) ;;
      NODE_OPTIONS=*)
        v=\${line#NODE_OPTIONS=}
        if options_ok "$v"; then node_options=$v; else echo "<4>${tag}: $settings: NODE_OPTIONS=$v refused (allowed: ${NO_NODE_OPTIONS}, ${allowedList()}); using $node_options" >&2; fi ;;
      UV_THREADPOOL_SIZE=*)
        v=\${line#UV_THREADPOOL_SIZE=}
        if count_ok "$v" ${MAX_UV_THREADPOOL_SIZE}; then uv_threads=$v; else echo "<4>${tag}: $settings: UV_THREADPOOL_SIZE=$v refused (1..${MAX_UV_THREADPOOL_SIZE}); using $uv_threads" >&2; fi ;;
      MALLOC_ARENA_MAX=*)
        v=\${line#MALLOC_ARENA_MAX=}
        if count_ok "$v" ${MAX_MALLOC_ARENAS}; then malloc_arenas=$v; else echo "<4>${tag}: $settings: MALLOC_ARENA_MAX=$v refused (1..${MAX_MALLOC_ARENAS}); using $malloc_arenas" >&2; fi ;;
      *) echo "<4>${tag}: $settings: ignored line (only NODE_OPTIONS=, UV_THREADPOOL_SIZE= and MALLOC_ARENA_MAX=)" >&2 ;;
    esac
  done < "$settings"
fi
[ "$node_options" = ${NO_NODE_OPTIONS} ] && node_options=
export NODE_OPTIONS="$node_options" UV_THREADPOOL_SIZE="$uv_threads" MALLOC_ARENA_MAX="$malloc_arenas"
`;
}
