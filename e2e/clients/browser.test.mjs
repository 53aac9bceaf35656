// The playground in a real browser: headless Chromium opens /, runs the default query from
// the editor and shows the result, and the page never requests anything but this server.
// Also checks CORS as a browser enforces it, from two other local origins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { baseURL, gql, outDir, seedStore, unique } from './helpers.mjs';

const server = new URL(baseURL);
// Other origins of the same server: e2e/clients_test.go allows the first by CORS_ORIGINS.
const allowedOrigin = `http://localhost:${server.port}`;
const otherOrigin = `http://127.0.0.2:${server.port}`;

const localOrigins = new Set([server.origin, allowedOrigin, otherOrigin]);
const isLocal = (url) => url.startsWith('data:') || url.startsWith('blob:') || localOrigins.has(new URL(url).origin);

test('GraphiQL in headless Chromium', async (t) => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM, // set by e2e/clients_test.go
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const requests = [];
  context.on('request', (req) => requests.push(req.url()));
  // Nothing may leave the machine even if the page tried: such requests are refused here
  // and reported below.
  await context.route((url) => !isLocal(url.href), (route) => route.abort('blockedbyclient'));

  await t.test('runs the default query and shows the result', async () => {
    await seedStore(unique('Browser'), 1);
    // What the default query must show: the first five stores (other tests add more).
    const { stores } = await gql('{ stores(first: 5) { totalCount nodes { name } } }');

    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
    await page.goto(`${baseURL}/`);
    await page.locator('.graphiql-query-editor').getByText('query Stores').waitFor();
    const response = page.waitForResponse((res) => res.url() === `${baseURL}/graphql` && res.request().postDataJSON()?.operationName === 'Stores');
    await page.locator('.graphiql-execute-button').click();
    const body = await (await response).json();
    assert.deepEqual(body.data.stores.nodes.map((s) => s.name), stores.nodes.map((s) => s.name));
    // The result pane shows the top of the response (the editor renders only what is in view).
    const resultWindow = page.locator('.result-window');
    await resultWindow.getByText(`"totalCount": ${stores.totalCount}`).waitFor();
    await resultWindow.getByText(JSON.stringify(stores.nodes[0].name)).waitFor();
    await page.screenshot({ path: join(outDir(), 'graphiql.png'), fullPage: true });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  await t.test('CORS lets the configured origin in and keeps others out', async () => {
    const page = await context.newPage();
    const call = (origin) => page.goto(`${origin}/healthz`).then(() => page.evaluate(async (url) => {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        return await res.text();
      } catch (err) {
        return `refused: ${err.message}`;
      }
    }, `${baseURL}/graphql`));
    assert.equal(await call(allowedOrigin), '{"data":{"__typename":"Query"}}');
    assert.equal(await call(otherOrigin), 'refused: Failed to fetch');
    await page.close();
  });

  await t.test('the page requested nothing from anywhere else', () => {
    assert.deepEqual(requests.filter((url) => !isLocal(url)), []);
    assert.ok(requests.some((url) => url === `${baseURL}/graphql`), 'GraphiQL never called the endpoint');
  });
});
