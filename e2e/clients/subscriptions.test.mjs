// Live updates through the real client libraries: graphql-ws (WebSocket, graphql-transport-ws),
// Apollo Client with GraphQLWsLink beside its HttpLink, and graphql-sse (server-sent events).
// Every kind of event, the store filter (items moved in and out), the cascade of a store's
// deletion, nested fields, resuming with `after`, and the bearer token in connection_init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { ApolloClient, HttpLink, InMemoryCache, split, gql as apolloGql } from '@apollo/client/core/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import { authHeaders, endpoint, gql, unique } from './helpers.mjs';

const wsURL = endpoint.replace(/^http/, 'ws');
const signedIn = { Authorization: authHeaders.authorization };
const ownerEmail = 'owner@e2e.test'; // the user e2e/server_test.go signs in as

/** A graphql-ws client; Node 20 has no WebSocket of its own, so it takes the ws package's. */
const wsClient = (connectionParams = signedIn) =>
  createWsClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0 });

const STORE_EVENTS = `subscription($after: String) {
  storeEvents(after: $after) { cursor kind storeId at store { id name owner { email } } } }`;
const ITEM_EVENTS = `subscription($after: String, $store: ID) {
  itemEvents(storeId: $store, after: $after) { cursor kind itemId storeId at item { id name price store { id name } } } }`;
const ITEM_IDS = `subscription($after: String, $store: ID) {
  itemEvents(storeId: $store, after: $after) { cursor kind itemId storeId } }`;

const createStore = async (name) =>
  (await gql('mutation($n: String!) { createStore(input: { name: $n }) { id } }', { n: name })).createStore.id;
const createItem = async (storeId, name, price = 1) =>
  (await gql('mutation($in: CreateItemInput!) { createItem(input: $in) { id } }', { in: { name, price, storeId } })).createItem.id;
const updateItem = (id, input) => gql('mutation($id: ID!, $in: UpdateItemInput!) { updateItem(id: $id, input: $in) { id } }', { id, in: input });
const renameStore = (id, name) => gql('mutation($id: ID!, $n: String!) { updateStore(id: $id, input: { name: $n }) { id } }', { id, n: name });
const deleteItem = (id) => gql('mutation($id: ID!) { deleteItem(id: $id) }', { id });
const deleteStore = (id) => gql('mutation($id: ID!) { deleteStore(id: $id) }', { id });

/**
 * The results of a subscription (an async iterable) as they come: next(ms) is the next one,
 * waiting at most ms; nothing is lost to a wait that timed out.
 */
function stream(iterable) {
  const queue = [];
  let wake = () => {};
  let ended = null;
  (async () => {
    try {
      for await (const result of iterable) {
        queue.push(result);
        wake();
      }
      ended = new Error('the subscription completed');
    } catch (err) {
      ended = err;
    }
    wake();
  })();
  return {
    // Generous: the log is stamped once every transaction of the Postgres cluster has
    // ended, other tests' included.
    async next(ms = 30_000) {
      const deadline = Date.now() + ms;
      while (queue.length === 0) {
        if (ended) throw ended;
        const left = deadline - Date.now();
        if (left <= 0) throw new NothingCame(ms);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => { clearTimeout(timer); resolve(); };
        });
      }
      return queue.shift();
    },
    /** The next event (the one field of the result's data); throws on errors. */
    async event(ms) {
      const result = await this.next(ms);
      if (result.errors) throw new Error(`errors instead of an event: ${JSON.stringify(result.errors)}`);
      return Object.values(result.data)[0];
    },
    async events(n, ms) {
      const out = [];
      while (out.length < n) out.push(await this.event(ms));
      return out;
    },
    close: () => iterable.return?.(),
  };
}

class NothingCame extends Error {
  constructor(ms) { super(`no result within ${ms} ms`); }
}

/**
 * A cursor of the log as it is now: subscribing after it delivers exactly what is written
 * next. A subscription without `after` starts when the server takes it, which a client
 * cannot see, so this one probes until it delivers, then writes a marker and returns its cursor.
 */
async function baseCursor(client) {
  const probe = await createStore(unique('Probe'));
  const events = stream(client.iterate({ query: ITEM_IDS, variables: { store: probe } }));
  try {
    for (let n = 0; ; n++) {
      assert.ok(n < 30, 'the subscription never delivered a probe');
      await createItem(probe, `probe ${n}`);
      try {
        await events.next(300);
        break;
      } catch (err) {
        if (!(err instanceof NothingCame)) throw err;
      }
    }
    const marker = await createItem(probe, 'marker');
    for (;;) {
      const e = await events.event();
      if (e.itemId === marker) return e.cursor;
    }
  } finally {
    await events.close();
  }
}

const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** The parts of events that do not vary between runs: no cursor, no time. */
const shape = (events) => events.map(({ cursor, at, ...rest }) => {
  assert.equal(typeof cursor, 'string');
  assert.match(at, rfc3339);
  return rest;
});

test('subscriptions through graphql-ws, Apollo Client and graphql-sse', async (t) => {
  const client = wsClient();
  const anonymous = wsClient({});
  const sse = createSseClient({ url: endpoint, headers: authHeaders, retryAttempts: 0 });
  const sseAnonymous = createSseClient({ url: endpoint, retryAttempts: 0 });
  t.after(() => Promise.all([client.dispose(), anonymous.dispose()]).then(() => { sse.dispose(); sseAnonymous.dispose(); }));

  await t.test('graphql-ws: every kind of store and item event, with its row and nested fields', { timeout: 60_000 }, async () => {
    const after = await baseCursor(client);
    const stores = stream(client.iterate({ query: STORE_EVENTS, variables: { after } }));
    const items = stream(client.iterate({ query: ITEM_EVENTS, variables: { after } }));
    const name = unique('Live');
    const owner = { email: ownerEmail };

    // One write, then its event: nested fields are read at delivery, and the rows they
    // reach are still there.
    const storeId = await createStore(name);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'CREATED', storeId, store: { id: storeId, name, owner } }]);
    const lamp = await createItem(storeId, 'Lamp', 2.5);
    assert.deepEqual(shape([await items.event()]), [
      { kind: 'CREATED', itemId: lamp, storeId, item: { id: lamp, name: 'Lamp', price: 2.5, store: { id: storeId, name } } }]);
    await updateItem(lamp, { price: 3 });
    assert.deepEqual(shape([await items.event()]), [
      { kind: 'UPDATED', itemId: lamp, storeId, item: { id: lamp, name: 'Lamp', price: 3, store: { id: storeId, name } } }]);
    await renameStore(storeId, `${name} renamed`);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'UPDATED', storeId, store: { id: storeId, name: `${name} renamed`, owner } }]);
    await deleteItem(lamp);
    assert.deepEqual(shape([await items.event()]), [{ kind: 'DELETED', itemId: lamp, storeId, item: null }]);
    const chair = await createItem(storeId, 'Chair', 40);
    await items.event();
    await deleteStore(storeId);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'DELETED', storeId, store: null }]);
    assert.deepEqual(shape([await items.event()]), [{ kind: 'DELETED', itemId: chair, storeId, item: null }]);

    // The rows as each change left them, whatever happened after: a replay from the same
    // cursor, after everything is gone, shows the store's name at each change.
    const replay = stream(client.iterate({ query: STORE_EVENTS, variables: { after } }));
    assert.deepEqual((await replay.events(3)).map((e) => [e.kind, e.store?.name ?? null]),
      [['CREATED', name], ['UPDATED', `${name} renamed`], ['DELETED', null]]);
    await Promise.all([stores.close(), items.close(), replay.close()]);
  });

  await t.test('graphql-ws: itemEvents(storeId:) gets the items moved into and out of the store', { timeout: 60_000 }, async () => {
    const after = await baseCursor(client);
    const a = await createStore(unique('Shelf A'));
    const b = await createStore(unique('Shelf B'));
    const inA = stream(client.iterate({ query: ITEM_IDS, variables: { after, store: a } }));
    const all = stream(client.iterate({ query: ITEM_IDS, variables: { after } }));

    const x = await createItem(a, 'x');
    const y = await createItem(b, 'y');
    await updateItem(x, { storeId: b }); // moved out of A: A's page drops it
    await updateItem(y, { storeId: a }); // moved into A
    await updateItem(x, { price: 9 }); // in B now: not A's
    await deleteItem(y);
    const end = await createItem(a, 'end');

    const ids = (events) => events.map(({ kind, itemId, storeId }) => [kind, itemId, storeId]);
    assert.deepEqual(ids(await inA.events(5)), [
      ['CREATED', x, a], ['UPDATED', x, b], ['UPDATED', y, a], ['DELETED', y, a], ['CREATED', end, a]]);
    assert.deepEqual(ids(await all.events(7)), [
      ['CREATED', x, a], ['CREATED', y, b], ['UPDATED', x, b], ['UPDATED', y, a], ['UPDATED', x, b], ['DELETED', y, a], ['CREATED', end, a]]);
    await Promise.all([inA.close(), all.close()]);
  });

  await t.test('graphql-ws: deleting a store emits its DELETED and one DELETED per item', { timeout: 60_000 }, async () => {
    const after = await baseCursor(client);
    const storeId = await createStore(unique('Closing'));
    const itemIds = [await createItem(storeId, 'a'), await createItem(storeId, 'b'), await createItem(storeId, 'c')];
    const stores = stream(client.iterate({ query: STORE_EVENTS, variables: { after } }));
    const items = stream(client.iterate({ query: ITEM_EVENTS, variables: { after } }));
    const ofStore = stream(client.iterate({ query: ITEM_EVENTS, variables: { after, store: storeId } }));
    assert.equal((await stores.event()).kind, 'CREATED');
    for (const s of [items, ofStore]) assert.deepEqual((await s.events(3)).map((e) => e.kind), ['CREATED', 'CREATED', 'CREATED']);

    await deleteStore(storeId);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'DELETED', storeId, store: null }]);
    for (const s of [items, ofStore]) {
      const deleted = shape(await s.events(3)).sort((p, q) => p.itemId.localeCompare(q.itemId));
      assert.deepEqual(deleted, [...itemIds].sort().map((itemId) => ({ kind: 'DELETED', itemId, storeId, item: null })));
    }
    await Promise.all([stores.close(), items.close(), ofStore.close()]);
  });

  await t.test('graphql-ws: resuming with after delivers every later event once, then live ones', { timeout: 60_000 }, async () => {
    const after = await baseCursor(client);
    const unbroken = stream(client.iterate({ query: STORE_EVENTS, variables: { after } }));
    const name = unique('Resume');
    const first = stream(client.iterate({ query: STORE_EVENTS, variables: { after } }));
    for (const n of [1, 2, 3]) await createStore(`${name} ${n}`);
    const before = await first.events(3);
    await first.close();
    for (const n of [4, 5]) await createStore(`${name} ${n}`); // while disconnected

    const resumed = stream(client.iterate({ query: STORE_EVENTS, variables: { after: before[2].cursor } }));
    const fromEarlier = stream(client.iterate({ query: STORE_EVENTS, variables: { after: before[0].cursor } }));
    const missed = await resumed.events(2);
    await createStore(`${name} 6`); // live, after the replay
    const live = await resumed.event();

    const reference = await unbroken.events(6);
    assert.deepEqual([...before, ...missed, live], reference);
    assert.deepEqual(await fromEarlier.events(5), reference.slice(1));
    assert.deepEqual(reference.map((e) => e.store.name), [1, 2, 3, 4, 5, 6].map((n) => `${name} ${n}`));
    await Promise.all([unbroken.close(), resumed.close(), fromEarlier.close()]);
  });

  await t.test('graphql-ws: connection_init with the bearer token signs the connection in', { timeout: 60_000 }, async () => {
    const me = async (c) => (await stream(c.iterate({ query: '{ me { email } }' })).next()).data.me;
    assert.deepEqual(await me(client), { email: ownerEmail });
    assert.equal(await me(anonymous), null);

    // The principal holds for every event: an owner's email is the owner's to see.
    const after = await baseCursor(client);
    const events = stream(anonymous.iterate({ query: STORE_EVENTS, variables: { after } }));
    const storeId = await createStore(unique('Seen anonymously'));
    const result = await events.next();
    assert.equal(result.data.storeEvents.storeId, storeId);
    assert.equal(result.data.storeEvents.store.owner, null);
    // The path's tail only: gqlgen leaves the subscription's root field out of it.
    assert.deepEqual(result.errors.map((e) => [e.extensions.code, e.path.slice(-3).join('.')]), [['UNAUTHENTICATED', 'store.owner.email']]);
    await events.close();
  });

  await t.test('graphql-ws: a bad token closes the connection with 4403', { timeout: 30_000 }, async () => {
    const forbidden = wsClient({ Authorization: 'Bearer not.a.token' });
    try {
      const closed = new Promise((resolve) => forbidden.on('closed', resolve));
      await assert.rejects(stream(forbidden.iterate({ query: STORE_EVENTS })).next(), (err) => {
        assert.equal(err.code, 4403);
        assert.equal(err.reason, 'Forbidden');
        return true;
      });
      assert.equal((await closed).code, 4403);
    } finally {
      await forbidden.dispose();
    }
  });

  await t.test('Apollo Client: GraphQLWsLink beside HttpLink keeps the normalized cache live', { timeout: 60_000 }, async () => {
    const isSubscription = ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    };
    const apollo = new ApolloClient({
      link: split(isSubscription, new GraphQLWsLink(client), new HttpLink({ uri: endpoint, headers: authHeaders })),
      cache: new InMemoryCache(),
    });
    const name = unique('Apollo live');
    const { data: created } = await apollo.mutate({
      mutation: apolloGql`mutation($n: String!) { createStore(input: { name: $n }) { id name } }`, variables: { n: name },
    });
    const storeId = created.createStore.id;

    // A page shows the store; someone else renames it; the event brings the new name into
    // the cache, and the page with it, with no refetch.
    const page = apollo.watchQuery({ query: apolloGql`query($id: ID!) { store(id: $id) { id name } }`, variables: { id: storeId } });
    const names = [];
    const renamed = new Promise((resolve, reject) => {
      page.subscribe({
        next: ({ data }) => { if (data?.store) names.push(data.store.name); if (data?.store?.name === `${name} renamed`) resolve(); },
        error: reject,
      });
    });
    const after = await baseCursor(client);
    const received = [];
    const live = new Promise((resolve, reject) => {
      apollo.subscribe({
        query: apolloGql`subscription($after: String) { storeEvents(after: $after) { cursor kind storeId store { id name } } }`,
        variables: { after },
      }).subscribe({
        next: ({ data }) => { received.push(data.storeEvents); if (received.length === 1) resolve(); },
        error: reject,
      });
    });
    await renameStore(storeId, `${name} renamed`);
    await live;
    await renamed;
    assert.deepEqual(received.map((e) => [e.__typename, e.kind, e.storeId, e.store]),
      [['StoreEvent', 'UPDATED', storeId, { __typename: 'Store', id: storeId, name: `${name} renamed` }]]);
    assert.equal(names.at(0), name);
    assert.ok(names.every((n) => n === name || n === `${name} renamed`), `the page showed ${JSON.stringify(names)}`);
    apollo.stop();
  });

  await t.test('graphql-sse: events over server-sent events, signed in by the Authorization header, resumable', { timeout: 60_000 }, async () => {
    const after = await baseCursor(client);
    const stores = stream(sse.iterate({ query: STORE_EVENTS, variables: { after } }));
    const items = stream(sse.iterate({ query: ITEM_EVENTS, variables: { after } }));
    const name = unique('SSE');
    const owner = { email: ownerEmail };
    const storeId = await createStore(name);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'CREATED', storeId, store: { id: storeId, name, owner } }]);
    const itemId = await createItem(storeId, 'Kettle', 12);
    assert.deepEqual(shape([await items.event()]), [
      { kind: 'CREATED', itemId, storeId, item: { id: itemId, name: 'Kettle', price: 12, store: { id: storeId, name } } }]);
    await renameStore(storeId, `${name} renamed`);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'UPDATED', storeId, store: { id: storeId, name: `${name} renamed`, owner } }]);
    await updateItem(itemId, { name: 'Big kettle' });
    assert.deepEqual(shape([await items.event()]), [
      { kind: 'UPDATED', itemId, storeId, item: { id: itemId, name: 'Big kettle', price: 12, store: { id: storeId, name: `${name} renamed` } } }]);
    await deleteStore(storeId);
    assert.deepEqual(shape([await stores.event()]), [{ kind: 'DELETED', storeId, store: null }]);
    assert.deepEqual(shape([await items.event()]), [{ kind: 'DELETED', itemId, storeId, item: null }]);
    await Promise.all([stores.close(), items.close()]);

    // A new stream from the same cursor replays the same events; one after the last of
    // them gets what comes next, and nothing before it.
    const back = stream(sse.iterate({ query: STORE_EVENTS, variables: { after } }));
    const replayed = await back.events(3);
    assert.deepEqual(replayed.map((e) => e.kind), ['CREATED', 'UPDATED', 'DELETED']);
    const resumed = stream(sse.iterate({ query: STORE_EVENTS, variables: { after: replayed[2].cursor } }));
    // Without the header, the stream is anonymous: the owner's email is not for it.
    const anon = stream(sseAnonymous.iterate({ query: STORE_EVENTS, variables: { after: replayed[2].cursor } }));
    const later = await createStore(`${name} later`);
    const [fromResumed, fromBack] = [await resumed.event(), await back.event()];
    assert.deepEqual(fromResumed, fromBack);
    assert.equal(fromResumed.storeId, later);
    const result = await anon.next();
    assert.equal(result.data.storeEvents.storeId, later);
    assert.equal(result.data.storeEvents.store.owner, null);
    assert.deepEqual(result.errors.map((e) => e.extensions.code), ['UNAUTHENTICATED']);
    await Promise.all([resumed.close(), back.close(), anon.close()]);
  });
});
