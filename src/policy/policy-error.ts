import type { PolicyProblem } from './types.js';

/** Formats one problem as `file:line: rule "name": path: message`, the shape editors and CI logs link on. */
export function formatProblem(fileName: string, problem: PolicyProblem): string {
  const where = problem.line === null ? fileName : `${fileName}:${problem.line}`;
  const rule = problem.rule === null ? '' : `rule "${problem.rule}": `;
  const path = problem.path === '' ? '' : `${relativePath(problem)}: `;
  return `${where}: ${rule}${path}${problem.message}`;
}

// Inside a named rule the `rules[3].` prefix is noise: the rule name already says where.
function relativePath(problem: PolicyProblem): string {
  if (problem.rule === null) return problem.path;
  return problem.path.replace(/^rules\[\d+\]\.?/, '') || problem.path;
}

/** A policy file was refused. `problems` lists every problem found, in file order. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly problems: PolicyProblem[];
  readonly fileName: string;

  constructor(fileName: string, problems: PolicyProblem[]) {
    const lines = problems.map((p) => `  ${formatProblem(fileName, p)}`);
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`invalid policy ${fileName} (${count}):\n${lines.join('\n')}`);
    this.fileName = fileName;
    this.problems = problems;
  }

  /** One formatted line per problem, for CLIs. */
  lines(): string[] {
    return this.problems.map((p) => formatProblem(this.fileName, p));
  }
}
