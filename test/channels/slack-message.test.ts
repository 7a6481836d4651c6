import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSlackMessage, parseActionId } from '../../src/channels/slack/message.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { toView } from '../../src/gateway/view.js';
import { makeRequest } from './fixtures.js';

describe('Slack message', () => {
  it('shows the context a reviewer needs, masked, with buttons carrying the request id', () => {
    const req = makeRequest({ reason: 'restart <@channel> & co' });
    const { text, blocks } = buildSlackMessage(toView(req));
    const json = JSON.stringify(blocks);
    expect(text).toContain('service.restart');
    for (const part of ['k8s://prod/deploy/api', 'production', 'deploy-bot', 'alice@example.com']) {
      expect(json).toContain(part);
    }
    expect(json).toContain('frank@example.com (unverified)');
    expect(json).toContain('[MASKED:github_token]');
    expect(json).toContain('`github_token`');
    expect(json).toContain('prod-restarts');
    expect(json).toContain('production restarts need two SREs');
    expect(json).toContain('0 of 2');
    expect(json).toContain('<!date^');
    // Request text is never markup: no channel pings from a reason.
    expect(json).toContain('restart &lt;@channel&gt; &amp; co');
    const actions = blocks.find((b) => b.type === 'actions') as { elements: { action_id: string }[] };
    const ids = actions.elements.map((e) => parseActionId(e.action_id));
    expect(ids).toEqual([
      { verb: 'approve', requestId: req.id },
      { verb: 'deny', requestId: req.id },
    ]);
  });

  it('shows the outcome and who approved once settled, with no buttons', () => {
    const base = makeRequest();
    const review = (email: string) => ({
      reviewer: { id: email, name: email.split('@')[0] as string, email, personId: email, groups: ['sre'] },
      verdict: 'approve' as const,
      comment: null,
      channel: 'slack' as const,
      assurance: 'chat' as const,
      at: base.createdAt,
    });
    const settled = {
      ...base,
      status: 'approved' as const,
      decidedBy: 'carol@example.com',
      decidedAt: base.createdAt,
      approval: { ...base.approval!, reviews: [review('bob@example.com'), review('carol@example.com')] },
    };
    const { blocks } = buildSlackMessage(toView(settled));
    const json = JSON.stringify(blocks);
    expect(blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(json).toContain('*Outcome*: approved by carol@example.com');
    expect(json).toContain('2 of 2');
    expect(json).toContain('bob &lt;bob@example.com&gt; :white_check_mark: approved via slack');
  });
});

describe('channels.slack config', () => {
  async function load(yaml: string) {
    const dir = await mkdtemp(join(tmpdir(), 'countersign-config-'));
    const file = join(dir, 'countersign.yaml');
    await writeFile(file, yaml);
    try {
      return await loadConfig(file, {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('reads the block with its defaults; secrets stay references', async () => {
    const config = await load(
      'channels:\n  slack:\n    bot_token: env:SLACK_BOT_TOKEN\n    signing_secret: file:slack-secret\n' +
        '    users: { U0BOB: Bob@Example.com }\n',
    );
    expect(config.channels?.slack).toMatchObject({
      botToken: 'env:SLACK_BOT_TOKEN',
      apiUrl: 'https://slack.com/api/',
      dmApprovers: false,
      users: { U0BOB: 'bob@example.com' },
    });
    expect(config.channels?.slack?.signingSecret).toMatch(/^file:\/.*slack-secret$/);
  });

  it('has no channels when the block is absent, and refuses unknown keys', async () => {
    expect((await load('log_level: warn\n')).channels).toBeUndefined();
    await expect(
      load('channels:\n  slack:\n    bot_token: x\n    signing_secret: y\n    token: z\n'),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(load('channels:\n  slack:\n    bot_token: x\n')).rejects.toThrow(/signing_secret/);
  });
});
