// pipework's `route|rule|tc <guest> <args…>`: iproute2 inside a container's namespace, argv only.
import { invalid } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';

export type NetTool = 'route' | 'rule' | 'tc';
export const NET_TOOLS: readonly NetTool[] = ['route', 'rule', 'tc'];

/** Global options that would reach outside the container or read commands from elsewhere. */
const REFUSED_OPTIONS = ['-batch', '-netns', '-force'];
/** tc's also: -cf/-conf FILE reads a file of the host (tc takes any prefix of them, `-c` included). */
const TC_REFUSED_OPTIONS = ['-cf', '-conf'];
const MAX_ARGS = 64;

function refusedOption(tool: string, tok: string): string | undefined {
  const t = tok.replace(/^--/, '-');
  if (t === '-n') return '-n';
  // iproute2 accepts any unambiguous prefix of an option (`-net`, `-b`, `-forc`…).
  const refused = tool === 'tc' ? [...REFUSED_OPTIONS, ...TC_REFUSED_OPTIONS] : REFUSED_OPTIONS;
  return refused.find((o) => t.length >= 2 && o.startsWith(t));
}

/** The argv to run, after refusing what must never pass. Family switches (-4/-6) may lead for route/rule. */
export function netCommandArgv(tool: string, args: readonly string[]): { cmd: string; argv: string[] } {
  if (!(NET_TOOLS as readonly string[]).includes(tool))
    throw invalid(`unknown tool '${tool}'`, 'use route, rule or tc');
  if (args.length === 0)
    throw invalid(
      `fleetnet ${tool} needs arguments`,
      tool === 'tc'
        ? 'e.g. fleetnet tc web1 qdisc add dev eth1 root tbf rate 1mbit burst 32kbit latency 400ms'
        : `e.g. fleetnet ${tool} web1 show`,
    );
  if (args.length > MAX_ARGS) throw invalid(`too many arguments (${args.length}; at most ${MAX_ARGS})`);
  let family: string[] = [];
  let rest = [...args];
  if (tool !== 'tc' && (rest[0] === '-4' || rest[0] === '-6')) {
    family = [rest[0]];
    rest = rest.slice(1);
  }
  for (const a of rest) {
    if (a.length === 0 || a.length > 256 || /[\0\n]/.test(a))
      throw invalid(`argument '${a.slice(0, 40)}' is empty, too long or holds a newline`);
    const opt = a.startsWith('-') ? refusedOption(tool, a) : undefined;
    if (opt)
      throw invalid(
        `'${a}' (${opt}) is refused: it would act outside the container's namespace or read commands from elsewhere`,
        `run the command without ${opt}; fleetnet already runs it inside the container`,
      );
    if (tool === 'tc' && /^(bpf|exec)$/i.test(a))
      throw invalid(
        `tc '${a}' is refused: it loads programs or runs commands on the host`,
        'use a qdisc, class or filter that needs no external program (tbf, htb, netem, u32, flower)',
      );
  }
  return tool === 'tc' ? { cmd: 'tc', argv: rest } : { cmd: 'ip', argv: [...family, tool, ...rest] };
}

export async function runNetCommand(
  runner: Runner,
  netns: string,
  tool: string,
  args: readonly string[],
  signal?: AbortSignal,
) {
  const { cmd, argv } = netCommandArgv(tool, args);
  const full = [`--net=${netns}`, cmd, ...argv];
  const r = await runner.run('nsenter', full, { allowFail: true, timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, argv: ['nsenter', ...full] };
}
