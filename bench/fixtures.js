// What the HTTP benchmarks share: the gateway's policy, and CPU time per thread from /proc.
import { readdirSync, readFileSync } from 'node:fs';

export const GATEWAY_POLICY = `version: 1
defaults:
  effect: deny
rules:
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
  - name: deploys-need-platform
    when: action == "deploy.run"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
`;

/**
 * CPU time (ms) of each of this process's threads, by thread id (the main thread's id is the pid): shows
 * how the gateway's work splits between the event loop, the store thread and libuv's pool. Null off Linux.
 * @returns {Record<string, number> | null}
 */
export function threadTimes() {
  try {
    /** @type {Record<string, number>} */
    const out = {};
    for (const tid of readdirSync('/proc/self/task')) {
      // Fields after the command name: state is 3rd, utime 14th and stime 15th of the whole line.
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      out[tid] = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
    }
    return out;
  } catch {
    return null;
  }
}
