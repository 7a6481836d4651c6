import { describe, expect, it } from 'vitest';
import { aggregateUsage, isExternal, type UsageSource } from './usage.js';

const req = (name: string, action: string, classes: string[], flow: unknown): UsageSource => ({
  action,
  requester: { id: `id-${name}`, name },
  classes,
  flow,
  status: 'approved',
});

describe('data usage', () => {
  const trusted = ['s3://corp-*', 'https://*.corp.example/*'];
  const sources = [
    req('etl-bot', 'data.export', ['personal'], { destination: 's3://corp-lake', records: 100, bytes: 1000 }),
    req('etl-bot', 'data.export', ['personal', 'financial'], {
      destination: 's3://public-dump',
      records: 5,
      bytes: 50,
    }),
    req('support-bot', 'ticket.read', [], { source: 'zendesk', classes: ['personal'], records: 1 }),
    req('deploy-bot', 'service.restart', [], null),
  ];

  it('marks destinations outside the trusted patterns as external', () => {
    expect(isExternal('s3://corp-lake', trusted)).toBe(false);
    expect(isExternal('s3://public-dump', trusted)).toBe(true);
    expect(isExternal(null, trusted)).toBe(false);
  });

  it('groups by principal and class, counting a request once per class', () => {
    const r = aggregateUsage(sources, ['principal', 'class'], trusted);
    expect(r.totals).toEqual({ requests: 4, records: 106, bytes: 1050, external: 1 });
    const row = (p: string, c: string) => r.rows.find((x) => x.group.principal === p && x.group.class === c);
    expect(row('etl-bot', 'personal')).toMatchObject({ requests: 2, records: 105, bytes: 1050, external: 1 });
    expect(row('etl-bot', 'financial')).toMatchObject({ requests: 1, external: 1 });
    expect(row('support-bot', 'personal')).toMatchObject({ requests: 1, records: 1 });
    expect(row('deploy-bot', '-')).toMatchObject({ requests: 1 });
    expect(r.externalDestinations).toEqual([{ destination: 's3://public-dump', requests: 1 }]);
  });

  it('ignores malformed flow fields instead of failing', () => {
    const r = aggregateUsage(
      [req('x', 'a', [], { records: 'lots', bytes: -1, destination: 42 })],
      ['destination'],
      trusted,
    );
    expect(r.rows).toEqual([{ group: { destination: '-' }, requests: 1, records: 0, bytes: 0, external: 0 }]);
  });
});
