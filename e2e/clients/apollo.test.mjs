// Apollo Client with a normalized cache and Relay-style pagination, as a React app would use
// it: list stores, page through items both ways, mutate and keep the cache in step, and read
// error codes from graphQLErrors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql as apolloGql } from '@apollo/client/core/index.js';
import { relayStylePagination } from '@apollo/client/utilities/index.js';
import { authHeaders, endpoint, errorCases, itemNames, seedStore, unique } from './helpers.mjs';

const newClient = () => new ApolloClient({
  link: new HttpLink({ uri: endpoint, headers: authHeaders }),
  cache: new InMemoryCache({
    typePolicies: {
      Query: { fields: { stores: relayStylePagination(['filter', 'orderBy']), items: relayStylePagination(['filter', 'orderBy']) } },
      Store: { fields: { items: relayStylePagination(['filter', 'orderBy']) } },
    },
  }),
});

const STORES = apolloGql`
  query Stores($first: Int, $after: String, $filter: StoreFilter) {
    stores(first: $first, after: $after, filter: $filter, orderBy: { field: NAME }) {
      totalCount
      edges { cursor node { id name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

const ITEMS = apolloGql`
  query Items($first: Int, $after: String, $last: Int, $before: String, $filter: ItemFilter) {
    items(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      edges { cursor node { id name price } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

const STORE_ITEMS = apolloGql`
  query StoreItems($id: ID!, $first: Int, $after: String) {
    store(id: $id) {
      id
      name
      items(first: $first, after: $after) {
        edges { cursor node { id name price } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`;

const names = (conn) => conn.edges.map((e) => e.node.name);

/** Watches a query, as a component would: first() is its first result, more() pages it. */
function watch(client, query, variables) {
  const observable = client.watchQuery({ query, variables });
  const first = new Promise((resolve, reject) => {
    observable.subscribe({ next: (result) => { if (!result.loading) resolve(result); }, error: reject });
  });
  return {
    first: () => first,
    more: (vars) => observable.fetchMore({ variables: vars }).then(() => observable.getCurrentResult()),
  };
}

test('Apollo Client', async (t) => {
  const prefix = unique('Apollo');
  const { storeId } = await seedStore(`${prefix} A`, 7);
  await seedStore(`${prefix} B`, 0);
  await seedStore(`${prefix} C`, 0);

  await t.test('lists stores and pages forward through the cache', async () => {
    const q = watch(newClient(), STORES, { first: 2, filter: { nameContains: prefix } });
    const page1 = (await q.first()).data.stores;
    assert.deepEqual(names(page1), [`${prefix} A`, `${prefix} B`]);
    assert.equal(page1.totalCount, 3);
    assert.equal(page1.pageInfo.hasNextPage, true);
    const merged = (await q.more({ after: page1.pageInfo.endCursor })).data.stores;
    assert.deepEqual(names(merged), [`${prefix} A`, `${prefix} B`, `${prefix} C`]);
    assert.equal(merged.pageInfo.hasNextPage, false);
  });

  await t.test('pages through items forwards', async () => {
    const q = watch(newClient(), ITEMS, { first: 3, filter: { storeId } });
    let items = (await q.first()).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 1, 2, 3));
    items = (await q.more({ after: items.pageInfo.endCursor })).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 1, 2, 3, 4, 5, 6));
    items = (await q.more({ after: items.pageInfo.endCursor })).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 1, 2, 3, 4, 5, 6, 7));
    assert.equal(items.pageInfo.hasNextPage, false);
  });

  await t.test('pages through items backwards', async () => {
    const q = watch(newClient(), ITEMS, { last: 3, filter: { storeId } });
    let items = (await q.first()).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 5, 6, 7));
    assert.equal(items.pageInfo.hasPreviousPage, true);
    items = (await q.more({ last: 3, before: items.pageInfo.startCursor })).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 2, 3, 4, 5, 6, 7));
    items = (await q.more({ last: 3, before: items.pageInfo.startCursor })).data.items;
    assert.deepEqual(names(items), itemNames(`${prefix} A`, 1, 2, 3, 4, 5, 6, 7));
    assert.equal(items.pageInfo.hasPreviousPage, false);
  });

  await t.test('create, update and delete keep the cached lists in step', async () => {
    const client = newClient();
    const { storeId: emptyId } = await seedStore(`${prefix} D`, 0);
    await client.query({ query: STORE_ITEMS, variables: { id: emptyId, first: 10 } });
    const cached = () => client.readQuery({ query: STORE_ITEMS, variables: { id: emptyId, first: 10 } }).store.items;

    const { data: created } = await client.mutate({
      mutation: apolloGql`mutation($in: CreateItemInput!) { createItem(input: $in) { id name price } }`,
      variables: { in: { name: 'Fresh', price: 2.5, storeId: emptyId } },
      update(cache, { data: { createItem } }) {
        cache.modify({
          id: cache.identify({ __typename: 'Store', id: emptyId }),
          fields: {
            items(existing, { toReference }) {
              const edge = { __typename: 'ItemEdge', cursor: '', node: toReference(createItem) };
              return { ...existing, edges: [...existing.edges, edge] };
            },
          },
        });
      },
    });
    assert.deepEqual(cached().edges.map((e) => e.node), [{ __typename: 'Item', id: created.createItem.id, name: 'Fresh', price: 2.5 }]);

    // The normalized cache applies the mutation's result to every list holding the item.
    await client.mutate({
      mutation: apolloGql`mutation($id: ID!) { updateItem(id: $id, input: { price: 3 }) { id price } }`,
      variables: { id: created.createItem.id },
    });
    assert.equal(cached().edges[0].node.price, 3);

    await client.mutate({
      mutation: apolloGql`mutation($id: ID!) { deleteItem(id: $id) }`,
      variables: { id: created.createItem.id },
      update(cache, { data: { deleteItem } }) {
        cache.evict({ id: cache.identify({ __typename: 'Item', id: deleteItem }) });
        cache.gc();
      },
    });
    assert.deepEqual(cached().edges, []);
    const { data } = await client.query({ query: STORE_ITEMS, variables: { id: emptyId, first: 10 }, fetchPolicy: 'network-only' });
    assert.deepEqual(data.store.items.edges, []);
  });

  await t.test('error codes arrive in graphQLErrors[].extensions.code', async () => {
    const client = newClient();
    const cases = errorCases(`${prefix} a`).map(([code, source]) => [code, apolloGql(source)]);
    for (const [code, doc] of cases) {
      const isQuery = doc.definitions[0].operation === 'query';
      const run = isQuery ? client.query({ query: doc }) : client.mutate({ mutation: doc, variables: { s: storeId } });
      await assert.rejects(run, (err) => {
        assert.deepEqual(err.graphQLErrors.map((e) => e.extensions.code), [code]);
        return true;
      });
    }
  });
});
