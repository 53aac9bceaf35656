// Shared by the client tests: where the server is and how to seed it without a client library.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The storegraph server under test, e.g. http://127.0.0.1:43123 (set by e2e/clients_test.go). */
export const baseURL = process.env.STOREGRAPH_URL;
if (!baseURL) {
  throw new Error('STOREGRAPH_URL is not set: run these tests through `go test ./e2e/` or scripts/test');
}
export const endpoint = `${baseURL}/graphql`;

/** An access token of the user the tests sign in as (set by e2e/clients_test.go): writes need one. */
const token = process.env.STOREGRAPH_TOKEN;
if (!token) {
  throw new Error('STOREGRAPH_TOKEN is not set: run these tests through `go test ./e2e/` or scripts/test');
}
/** The header that signs a request in, as a client sends it once its user has logged in. */
export const authHeaders = { authorization: `Bearer ${token}` };

/** e2e/out/, where tests leave screenshots and generated code (gitignored). */
export function outDir(...parts) {
  const dir = fileURLToPath(new URL(['../out', ...parts].join('/') + '/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A name no other test (or earlier run on the same database) has used. */
export function unique(prefix) {
  return `${prefix} ${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** POSTs a GraphQL request, signed in, and returns the decoded body; throws on errors. */
export async function gql(query, variables) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authHeaders },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) {
    throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.data;
}

/** Creates a store with `count` items priced 1, 2, 3, … and returns their ids. */
export async function seedStore(name, count) {
  const { createStore } = await gql(
    'mutation($in: CreateStoreInput!) { createStore(input: $in) { id } }',
    { in: { name } },
  );
  const itemIds = [];
  for (let i = 1; i <= count; i++) {
    const { createItem } = await gql(
      'mutation($in: CreateItemInput!) { createItem(input: $in) { id } }',
      { in: { name: `${name} item ${i}`, price: i, storeId: createStore.id } },
    );
    itemIds.push(createItem.id);
  }
  return { storeId: createStore.id, itemIds };
}

/** The names seedStore gives the items of store `prefix`, for the given numbers. */
export const itemNames = (prefix, ...numbers) => numbers.map((n) => `${prefix} item ${n}`);

/**
 * One request per error code a client must see in graphQLErrors[].extensions.code, as
 * [code, GraphQL source]; `taken` is a store name that already exists.
 */
export function errorCases(taken) {
  return [
    ['CONFLICT', `mutation { createStore(input: { name: ${JSON.stringify(taken)} }) { id } }`],
    ['BAD_USER_INPUT', 'mutation($s: ID!) { createItem(input: { name: "x", price: -1, storeId: $s }) { id } }'],
    ['NOT_FOUND', 'mutation { deleteItem(id: "gid://storegraph/Item/999999999") }'],
    // 13 levels of fields, over the default depth limit of 12: refused before execution.
    ['DEPTH_LIMIT_EXCEEDED', '{ stores(first: 1) { nodes { items(first: 1) { nodes { store { items(first: 1) { nodes { store { items(first: 1) { nodes { store { items(first: 1) { totalCount } } } } } } } } } } } } }'],
  ];
}
