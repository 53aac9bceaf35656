// urql's core client with its document cache: the same flows as Apollo, paging with cursors
// by hand, and the cache invalidated by the typenames a mutation returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, cacheExchange, fetchExchange, gql as urqlGql } from '@urql/core';
import { authHeaders, endpoint, errorCases, gql, itemNames, seedStore, unique } from './helpers.mjs';

const newClient = () => new Client({ url: endpoint, fetchOptions: { headers: authHeaders }, exchanges: [cacheExchange, fetchExchange] });

const STORES = urqlGql`
  query Stores($first: Int, $after: String, $filter: StoreFilter) {
    stores(first: $first, after: $after, filter: $filter, orderBy: { field: NAME }) {
      totalCount
      nodes { id name }
      pageInfo { hasNextPage endCursor }
    }
  }`;

const ITEMS = urqlGql`
  query Items($first: Int, $after: String, $last: Int, $before: String, $filter: ItemFilter) {
    items(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      nodes { id name price }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

const STORE_ITEMS = urqlGql`
  query StoreItems($id: ID!) { store(id: $id) { id items(first: 10) { nodes { id name price } } } }`;

/** Runs a query and fails on any error. */
async function query(client, doc, variables, context) {
  const result = await client.query(doc, variables, context).toPromise();
  assert.equal(result.error, undefined);
  return result.data;
}


test('urql', async (t) => {
  const prefix = unique('Urql');
  const { storeId } = await seedStore(`${prefix} A`, 7);
  await seedStore(`${prefix} B`, 0);
  await seedStore(`${prefix} C`, 0);

  await t.test('lists stores page by page', async () => {
    const client = newClient();
    const filter = { nameContains: prefix };
    const page1 = (await query(client, STORES, { first: 2, filter })).stores;
    assert.equal(page1.totalCount, 3);
    const page2 = (await query(client, STORES, { first: 2, after: page1.pageInfo.endCursor, filter })).stores;
    assert.deepEqual([...page1.nodes, ...page2.nodes].map((s) => s.name), [`${prefix} A`, `${prefix} B`, `${prefix} C`]);
    assert.equal(page2.pageInfo.hasNextPage, false);
  });

  await t.test('pages through items both ways', async () => {
    const client = newClient();
    const filter = { storeId };
    let names = [];
    for (let after = null, page; !page || page.pageInfo.hasNextPage; after = page.pageInfo.endCursor) {
      page = (await query(client, ITEMS, { first: 3, after, filter })).items;
      names = [...names, ...page.nodes.map((i) => i.name)];
    }
    assert.deepEqual(names, itemNames(`${prefix} A`, 1, 2, 3, 4, 5, 6, 7));

    names = [];
    for (let before = null, page; !page || page.pageInfo.hasPreviousPage; before = page.pageInfo.startCursor) {
      page = (await query(client, ITEMS, { last: 3, before, filter })).items;
      names = [...page.nodes.map((i) => i.name), ...names];
    }
    assert.deepEqual(names, itemNames(`${prefix} A`, 1, 2, 3, 4, 5, 6, 7));
  });

  await t.test('mutations invalidate the cached results they touch', async () => {
    const client = newClient();
    const { storeId: emptyId } = await seedStore(`${prefix} D`, 0);
    const cachedItems = async () => (await query(client, STORE_ITEMS, { id: emptyId }, { additionalTypenames: ['Item'] })).store.items.nodes;
    assert.deepEqual(await cachedItems(), []);

    // Written behind the client's back: the document cache still answers with what it has.
    await gql('mutation($in: CreateItemInput!) { createItem(input: $in) { id } }', { in: { name: 'Unseen', price: 1, storeId: emptyId } });
    assert.deepEqual(await cachedItems(), []);

    const created = await client.mutation(
      urqlGql`mutation($in: CreateItemInput!) { createItem(input: $in) { id name price } }`,
      { in: { name: 'Fresh', price: 2.5, storeId: emptyId } },
    ).toPromise();
    assert.equal(created.error, undefined);
    const freshId = created.data.createItem.id;
    assert.deepEqual((await cachedItems()).map((i) => i.name), ['Unseen', 'Fresh']);

    const updated = await client.mutation(
      urqlGql`mutation($id: ID!) { updateItem(id: $id, input: { price: 3 }) { id price } }`, { id: freshId },
    ).toPromise();
    assert.equal(updated.error, undefined);
    assert.deepEqual((await cachedItems()).map((i) => i.price), [1, 3]);

    // deleteItem returns only an ID, so the mutation names the typename it invalidates.
    const deleted = await client.mutation(
      urqlGql`mutation($id: ID!) { deleteItem(id: $id) }`, { id: freshId }, { additionalTypenames: ['Item'] },
    ).toPromise();
    assert.equal(deleted.error, undefined);
    assert.deepEqual((await cachedItems()).map((i) => i.name), ['Unseen']);
  });

  await t.test('error codes arrive in graphQLErrors[].extensions.code', async () => {
    const client = newClient();
    // The depth case is refused before execution: urql asks for
    // application/graphql-response+json, so it is a 400, which urql still reads as a GraphQL error.
    const cases = errorCases(`${prefix} a`).map(([code, source]) => [code, urqlGql(source)]);
    for (const [code, doc] of cases) {
      const isQuery = doc.definitions[0].operation === 'query';
      const result = await (isQuery ? client.query(doc, {}) : client.mutation(doc, { s: storeId })).toPromise();
      assert.deepEqual(result.error?.graphQLErrors.map((e) => e.extensions.code), [code]);
      assert.equal(result.error.networkError, undefined);
    }
  });
});
