// Relay: relay-compiler compiles the app in relay/ (a @refetchable Store fragment, a pagination
// fragment with @connection on Store.items and @argumentDefinitions, @appendNode and
// @deleteRecord mutations) against the schema the server serves at /schema.graphql, and
// relay-runtime runs the compiled artifacts against the server, as a React app's hooks would
// (no React here: the hooks' work is done with the runtime's own calls). Relay normalises
// every object by its id alone, so the page of stores and items below is laid out so that each
// store has the same row id as some item: with ids unique only per type, the store and the item
// became one record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import relayRuntime from 'relay-runtime';
import { authHeaders, baseURL, endpoint, gql, outDir, unique } from './helpers.mjs';

const {
  ConnectionHandler, Environment, Network, RecordSource, Store,
  commitMutation, createOperationDescriptor, fetchQuery, getSelector,
} = relayRuntime;

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Copies relay/ to e2e/out/relay/, downloads the server's /schema.graphql beside its
 * relay.config.json, runs relay-compiler there and returns a loader for the artifacts it wrote.
 */
async function compileRelayApp() {
  const dir = outDir('relay');
  rmSync(dir, { recursive: true, force: true });
  cpSync(here('relay'), dir, { recursive: true });
  mkdirSync(join(dir, '__generated__'));

  const res = await fetch(`${baseURL}/schema.graphql`);
  assert.equal(res.status, 200);
  writeFileSync(join(dir, 'schema.graphql'), await res.text());

  // The relay-compiler package resolves to the prebuilt compiler for this platform.
  const compiler = require('relay-compiler');
  assert.ok(compiler, `relay-compiler ships no binary for ${process.platform} ${process.arch}`);
  try {
    await promisify(execFile)(compiler, ['--output', 'quiet-with-errors', 'relay.config.json'], { cwd: dir });
  } catch (err) {
    assert.fail(`relay-compiler failed (${err.message.split('\n')[0]}):\n${err.stdout}${err.stderr}`);
  }
  const requireArtifact = createRequire(join(dir, '__generated__', 'artifacts.js'));
  return (name) => requireArtifact(`./${name}.graphql.js`);
}

/** A Relay environment whose network is a plain POST to the server, signed in; any GraphQL error fails. */
function newEnvironment() {
  const network = Network.create(async (params, variables) => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authHeaders },
      body: JSON.stringify({ query: params.text, operationName: params.name, variables }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.errors) {
      throw new Error(`${params.name}: HTTP ${res.status}: ${JSON.stringify(body)}`);
    }
    return body;
  });
  return new Environment({ network, store: new Store(new RecordSource()) });
}

/**
 * Fetches a query into the environment's store and keeps it there (retained, as a mounted
 * component keeps its query), and returns the query's data as read back from the store.
 */
async function load(env, query, variables) {
  const operation = createOperationDescriptor(query, variables);
  env.retain(operation);
  await fetchQuery(env, query, variables).toPromise();
  return env.lookup(operation.fragment).data;
}

/** A fragment's data for a fragment reference, read from the store (what useFragment returns). */
const read = (env, fragment, ref) => env.lookup(getSelector(fragment, ref)).data;

/**
 * What useRefetchableFragment's refetch() does: the fragment's generated refetch query,
 * with the object's id (the query goes through Query.node).
 */
async function refetch(env, fragment, ref) {
  const { operation, identifierInfo } = fragment.metadata.refetch;
  const id = read(env, fragment, ref)[identifierInfo.identifierField];
  await load(env, operation, { ...ref.__fragments[fragment.name], [identifierInfo.identifierQueryVariableName]: id });
}

/**
 * What usePaginationFragment's loadNext(count) does: the fragment's generated pagination
 * query, from the end cursor of the connection as the store holds it.
 */
async function loadNext(env, fragment, ref, count) {
  const { connection, operation, identifierInfo } = fragment.metadata.refetch;
  const data = read(env, fragment, ref);
  const { pageInfo } = connection.path.reduce((value, key) => value[key], data);
  assert.equal(pageInfo.hasNextPage, true);
  await load(env, operation, {
    ...ref.__fragments[fragment.name],
    [connection.forward.count]: count,
    [connection.forward.cursor]: pageInfo.endCursor,
    [identifierInfo.identifierQueryVariableName]: data[identifierInfo.identifierField],
  });
}

/** Commits a mutation through Relay and resolves with its response. */
const mutate = (env, mutation, variables) => new Promise((resolve, reject) => {
  commitMutation(env, {
    mutation,
    variables,
    onCompleted: (response, errors) => (errors ? reject(new Error(JSON.stringify(errors))) : resolve(response)),
    onError: reject,
  });
});

/**
 * The store's records of these types, as [__typename, id, name] ([…, price] for items), by type
 * and name; deleted records (null in the source) are left out.
 */
function records(env, ...types) {
  const source = env.getStore().getSource();
  return source.getRecordIDs()
    .map((id) => source.get(id))
    .filter((r) => r != null && types.includes(r.__typename))
    .map((r) => (r.__typename === 'Item' ? [r.__typename, r.__id, r.name, r.price] : [r.__typename, r.__id, r.name]))
    .sort((a, b) => a[0].localeCompare(b[0]) || a[2].localeCompare(b[2]));
}

/**
 * The row id inside a global ID. Clients treat ids as opaque; the test reads the row id only to
 * arrange, and to check, that stores and items share row ids.
 */
function rowOf(id) {
  const match = /^gid:\/\/storegraph\/(?:Store|Item)\/(\d+)$/.exec(id);
  assert.ok(match, `not a storegraph global ID: ${id}`);
  return Number(match[1]);
}

const createStore = async (name) =>
  (await gql('mutation($in: CreateStoreInput!) { createStore(input: $in) { id } }', { in: { name } })).createStore.id;
const createItem = async (name, price, storeId) =>
  (await gql('mutation($in: CreateItemInput!) { createItem(input: $in) { id } }', { in: { name, price, storeId } })).createItem.id;

/**
 * Creates throwaway rows (in stores named after `pad`) until the next store and the next item
 * get the same row id, whatever earlier tests created: on a fresh database that is the first
 * store and the first item, row 1 each.
 */
async function alignRowIds(pad) {
  const padStore = await createStore(pad);
  let store = rowOf(padStore);
  let item = rowOf(await createItem(`${pad} item`, 1, padStore));
  for (let i = 0; store < item && i < 500; i++) store = rowOf(await createStore(`${pad} ${i}`));
  for (let i = 0; item < store && i < 500; i++) item = rowOf(await createItem(`${pad} item ${i}`, 1, padStore));
  assert.equal(store, item, 'could not align the row ids of stores and items');
}

test('Relay', async (t) => {
  // relay-runtime warns on the console (in development builds, as here) about data that does
  // not fit the artifacts; any warning fails the test.
  const warnings = [];
  const { error, warn } = console;
  console.error = console.warn = (...args) => warnings.push(args.join(' '));
  t.after(() => Object.assign(console, { error, warn }));

  let artifact;
  await t.test('relay-compiler compiles the app against /schema.graphql', async () => {
    artifact = await compileRelayApp();
  });
  const StoreListQuery = artifact('StoreListQuery');
  const StoreListNodesQuery = artifact('StoreListNodesQuery');
  const StoreCard = artifact('StoreCard_store');
  const StoreCardRefetchQuery = artifact('StoreCardRefetchQuery');
  const StoreItems = artifact('StoreItems_store');
  const StoreItemsPaginationQuery = artifact('StoreItemsPaginationQuery');
  const CreateItem = artifact('StoreItemsCreateItemMutation');
  const DeleteItem = artifact('StoreItemsDeleteItemMutation');

  // Stores A, B, C with rows n, n+1, n+2; items A1, A2, A3, B1, B2 with rows n … n+4. So store
  // A and item A1 share row n, B and A2 row n+1, C and A3 row n+2.
  const prefix = unique('Relay');
  await alignRowIds(unique('Relay pad'));
  const [A, B, C] = [await createStore(`${prefix} A`), await createStore(`${prefix} B`), await createStore(`${prefix} C`)];
  const [A1, A2, A3] = [await createItem(`${prefix} A item 1`, 1, A), await createItem(`${prefix} A item 2`, 2, A), await createItem(`${prefix} A item 3`, 3, A)];
  const [B1, B2] = [await createItem(`${prefix} B item 1`, 1, B), await createItem(`${prefix} B item 2`, 2, B)];
  assert.deepEqual([rowOf(A1), rowOf(A2), rowOf(A3)], [rowOf(A), rowOf(B), rowOf(C)]);

  const env = newEnvironment();
  const items = (ref) => {
    const { items: conn } = read(env, StoreItems, ref);
    return { names: conn.edges.map((e) => e.node?.name ?? null), hasNextPage: conn.pageInfo.hasNextPage };
  };
  let a, b, c; // the stores' fragment references, as a list component hands them to its rows

  await t.test('normalising a page of stores with their items keeps every record apart', async () => {
    const data = await load(env, StoreListQuery, { filter: { nameContains: prefix }, first: 10, itemCount: 2 });
    assert.deepEqual(data.stores.edges.map((e) => e.node.id), [A, B, C]);
    [a, b, c] = data.stores.edges.map((e) => e.node);

    // One record per store and per item, each under its own global ID, with its own name.
    assert.deepEqual(records(env, 'Store', 'Item'), [
      ['Item', A1, `${prefix} A item 1`, 1],
      ['Item', A2, `${prefix} A item 2`, 2],
      ['Item', B1, `${prefix} B item 1`, 1],
      ['Item', B2, `${prefix} B item 2`, 2],
      ['Store', A, `${prefix} A`],
      ['Store', B, `${prefix} B`],
      ['Store', C, `${prefix} C`],
    ]);
    assert.deepEqual([a, b, c].map((ref) => read(env, StoreCard, ref).name), [`${prefix} A`, `${prefix} B`, `${prefix} C`]);
    assert.deepEqual(items(a), { names: [`${prefix} A item 1`, `${prefix} A item 2`], hasNextPage: true });
    assert.deepEqual(items(b), { names: [`${prefix} B item 1`, `${prefix} B item 2`], hasNextPage: false });
    assert.deepEqual(items(c), { names: [], hasNextPage: false });
  });

  await t.test('Query.nodes returns a store and an item of the same row id apart', async () => {
    const data = await load(newEnvironment(), StoreListNodesQuery, { ids: [A, A1] });
    assert.deepEqual(data.nodes, [
      { __typename: 'Store', id: A, name: `${prefix} A` },
      { __typename: 'Item', id: A1, name: `${prefix} A item 1`, price: 1 },
    ]);
  });

  await t.test('the @refetchable Store fragment refetches through Query.node', async () => {
    assert.match(StoreCardRefetchQuery.params.text, /^ {2}node\(id: \$id\) \{$/m);
    await gql('mutation($id: ID!, $in: UpdateStoreInput!) { updateStore(id: $id, input: $in) { id } }',
      { id: B, in: { name: `${prefix} B renamed` } });
    assert.equal(read(env, StoreCard, b).name, `${prefix} B`);
    await refetch(env, StoreCard, b);
    assert.equal(read(env, StoreCard, b).name, `${prefix} B renamed`);
    // Item A2 has B's row id; it is untouched.
    assert.deepEqual(records(env, 'Store', 'Item').filter(([, id]) => id === B || id === A2), [
      ['Item', A2, `${prefix} A item 2`, 2],
      ['Store', B, `${prefix} B renamed`],
    ]);
  });

  let connection; // the id of store A's items connection record
  await t.test('the @connection fragment pages Store.items with its generated query', async () => {
    assert.match(StoreItemsPaginationQuery.params.text, /^ {2}node\(id: \$id\) \{$/m);
    connection = read(env, StoreItems, a).items.__id;
    assert.equal(connection, ConnectionHandler.getConnectionID(A, 'StoreItems_items'));

    await loadNext(env, StoreItems, a, 2);
    assert.deepEqual(items(a), { names: [`${prefix} A item 1`, `${prefix} A item 2`, `${prefix} A item 3`], hasNextPage: false });
    // Appended in the one connection record of store A.
    const source = env.getStore().getSource();
    const edges = source.get(connection).edges.__refs.map((edge) => source.get(edge).node.__ref);
    assert.deepEqual(edges, [A1, A2, A3]);
    // Item A3 has C's row id: two records.
    assert.deepEqual(records(env, 'Store', 'Item').filter(([, id]) => id === C || id === A3), [
      ['Item', A3, `${prefix} A item 3`, 3],
      ['Store', C, `${prefix} C`],
    ]);
  });

  let A4;
  await t.test('createItem with @appendNode appends the new item to the connection', async () => {
    const { createItem: created } = await mutate(env, CreateItem, {
      input: { name: `${prefix} A item 4`, price: 4, storeId: A },
      connections: [connection],
    });
    assert.equal(created.name, `${prefix} A item 4`);
    assert.deepEqual(items(a), {
      names: [`${prefix} A item 1`, `${prefix} A item 2`, `${prefix} A item 3`, `${prefix} A item 4`],
      hasNextPage: false,
    });
    A4 = created.id;
    assert.deepEqual(records(env, 'Item').filter(([, id]) => id === A4), [['Item', A4, `${prefix} A item 4`, 4]]);
  });

  await t.test('deleteItem with @deleteRecord removes the item\'s record only', async () => {
    const { deleteItem } = await mutate(env, DeleteItem, { id: A1 });
    assert.equal(deleteItem, A1);
    const source = env.getStore().getSource();
    assert.equal(source.getStatus(A1), 'NONEXISTENT');
    // Store A, of the same row id as A1, keeps its record, its name and its items; so does
    // every other record.
    assert.equal(source.getStatus(A), 'EXISTENT');
    assert.equal(read(env, StoreCard, a).name, `${prefix} A`);
    assert.deepEqual(records(env, 'Store', 'Item'), [
      ['Item', A2, `${prefix} A item 2`, 2],
      ['Item', A3, `${prefix} A item 3`, 3],
      ['Item', A4, `${prefix} A item 4`, 4],
      ['Item', B1, `${prefix} B item 1`, 1],
      ['Item', B2, `${prefix} B item 2`, 2],
      ['Store', A, `${prefix} A`],
      ['Store', B, `${prefix} B renamed`],
      ['Store', C, `${prefix} C`],
    ]);
    // @deleteRecord removes the record, not the edge (that is @deleteEdge): the connection
    // still has A1's edge, whose node now reads as null.
    assert.deepEqual(items(a), {
      names: [null, `${prefix} A item 2`, `${prefix} A item 3`, `${prefix} A item 4`],
      hasNextPage: false,
    });
  });

  await t.test('relay-runtime printed no warnings', () => {
    assert.deepEqual(warnings, []);
  });
});
