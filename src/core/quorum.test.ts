import { describe, expect, it } from 'vitest';
import { quorumProgress } from './quorum.js';

const p = (personId: string, ...groups: string[]) => ({ personId, groups });

describe('quorum of distinct people with per-group minimums', () => {
  it('counts people, not approvals', () => {
    expect(quorumProgress({ quorum: 2, require: [] }, [p('a'), p('a')]).met).toBe(false);
    expect(quorumProgress({ quorum: 2, require: [] }, [p('a'), p('b')]).met).toBe(true);
  });

  it('lets one person fill at most one group', () => {
    const spec = {
      quorum: 1,
      require: [
        { group: 'sre', count: 1 },
        { group: 'dba', count: 1 },
      ],
    };
    expect(quorumProgress(spec, [p('ann', 'sre', 'dba')]).met).toBe(false);
  });

  it('finds an assignment a greedy pass would miss', () => {
    // Greedy in arrival order gives ann the sre slot and leaves dba empty; the matching moves ann to dba.
    const spec = {
      quorum: 2,
      require: [
        { group: 'sre', count: 1 },
        { group: 'dba', count: 1 },
      ],
    };
    const r = quorumProgress(spec, [p('ann', 'sre', 'dba'), p('sam', 'sre')]);
    expect(r.met).toBe(true);
    expect(r.require).toEqual([
      { group: 'sre', count: 1, filled: 1 },
      { group: 'dba', count: 1, filled: 1 },
    ]);
  });

  it('needs the quorum even when the group minimums are met', () => {
    const spec = { quorum: 3, require: [{ group: 'sre', count: 1 }] };
    expect(quorumProgress(spec, [p('a', 'sre'), p('b')]).met).toBe(false);
    expect(quorumProgress(spec, [p('a', 'sre'), p('b'), p('c')]).met).toBe(true);
  });

  it('handles counts above one and longer augmenting paths', () => {
    const spec = {
      quorum: 4,
      require: [
        { group: 'x', count: 2 },
        { group: 'y', count: 1 },
        { group: 'z', count: 1 },
      ],
    };
    const people = [p('1', 'x', 'y'), p('2', 'y', 'z'), p('3', 'z', 'x'), p('4', 'x')];
    expect(quorumProgress(spec, people).met).toBe(true);
    expect(quorumProgress(spec, people.slice(0, 3)).met).toBe(false);
  });
});
