// Runs the policy benchmark (policy-eval.js) in a process of its own, for bench/run.js: in the harness's
// own process, the modules the HTTP benchmarks load (autocannon above all) raised this benchmark's p99
// from ~3.5 to ~15 µs, the same for every request measured, with nothing else changed. Log lines and
// the result go back over IPC.
import { runPolicyEval } from './policy-eval.js';

process.once('message', (/** @type {any} */ opts) => {
  runPolicyEval((line) => process.send?.({ log: line }), opts).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (/** @type {unknown} */ err) => {
      process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
    },
  );
});
