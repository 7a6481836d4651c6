import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOT_FRAMEWORK, loadConfig } from './config.js';

describe('channels and public_url config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
    const file = join(dir, 'countersign.yaml');
    await writeFile(file, yaml);
    return loadConfig(file, env);
  }

  it('reads public_url without its trailing slash; the environment wins', async () => {
    expect((await load('public_url: https://cs.example.com/\n')).publicUrl).toBe('https://cs.example.com');
    expect(
      (
        await load('public_url: https://cs.example.com\n', {
          COUNTERSIGN_PUBLIC_URL: 'https://other.example',
        })
      ).publicUrl,
    ).toBe('https://other.example');
    expect((await load('{}\n')).publicUrl).toBeNull();
    await expect(load('public_url: not a url\n')).rejects.toThrow(/public_url: must be an http\(s\) URL/);
  });

  it('fills Teams defaults from Bot Framework and keeps secrets as references', async () => {
    const config = await load(`channels:
  teams:
    app_id: 00000000-0000-0000-0000-000000000001
    app_password: env:TEAMS_APP_PASSWORD
    tenant_id: contoso.onmicrosoft.com
    conversations:
      ops: { service_url: "https://smba.trafficmanager.net/emea/", conversation_id: "19:abc@thread.tacv2" }
    users: { 11111111-2222-3333-4444-555555555555: Bob@Example.com }
`);
    expect(config.channels?.teams).toEqual({
      appId: '00000000-0000-0000-0000-000000000001',
      appPassword: 'env:TEAMS_APP_PASSWORD',
      tenantId: 'contoso.onmicrosoft.com',
      tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      openidMetadataUrl: BOT_FRAMEWORK.openidMetadataUrl,
      issuer: 'https://api.botframework.com',
      conversations: {
        ops: { serviceUrl: 'https://smba.trafficmanager.net/emea', conversationId: '19:abc@thread.tacv2' },
      },
      users: { '11111111-2222-3333-4444-555555555555': 'bob@example.com' },
    });
  });

  it('reads webhooks, every event by default, and refuses duplicates and unknown events', async () => {
    const config = await load(`channels:
  webhooks:
    - { name: siem, url: "https://siem.example.com/hooks", secret: "file:whsec.txt" }
    - { name: pager, url: "https://pager.example.com/in", secret: env:PAGER_SECRET, events: [request.created] }
`);
    expect(config.channels?.webhooks).toEqual([
      {
        name: 'siem',
        url: 'https://siem.example.com/hooks',
        secret: `file:${join(dir, 'whsec.txt')}`,
        events: [
          'request.created',
          'request.reviewed',
          'request.decided',
          'request.expired',
          'execution.finished',
        ],
      },
      {
        name: 'pager',
        url: 'https://pager.example.com/in',
        secret: 'env:PAGER_SECRET',
        events: ['request.created'],
      },
    ]);
    await expect(
      load(`channels:
  webhooks:
    - { name: a, url: "https://a.example", secret: env:A }
    - { name: a, url: "https://b.example", secret: env:B }
`),
    ).rejects.toThrow(/"a" is used twice/);
    await expect(
      load(`channels:
  webhooks:
    - { name: a, url: "https://a.example", secret: env:A, events: [request.approved] }
`),
    ).rejects.toThrow(/channels\.webhooks\.0\.events\.0/);
  });
});
