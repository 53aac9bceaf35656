// GraphQL-over-HTTP compliance: every audit of graphql-http's serverAudits must pass. A
// warning fails too: the README explains any that a deliberate choice would leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { endpoint } from './helpers.mjs';

const audits = serverAudits({ url: endpoint });

test('graphql-http server audits', async (t) => {
  const counts = { ok: 0, warn: 0, error: 0 };
  for (const audit of audits) {
    await t.test(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      counts[result.status]++;
      assert.equal(result.status, 'ok', `${result.status}: ${result.reason ?? ''}`);
    });
  }
  t.diagnostic(`graphql-http audits: ${audits.length} run, ${counts.ok} ok, ${counts.warn} warnings, ${counts.error} errors`);
});
