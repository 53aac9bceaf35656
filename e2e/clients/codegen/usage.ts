// Compiled with tsc --noEmit next to the generated graphql.ts: it only type-checks if the
// generated types describe the schema's operations, and the @ts-expect-error lines only
// hold if they are precise rather than any.
import type {
  CatalogueQuery, CatalogueQueryVariables, CreateItemMutation, CreateItemMutationVariables,
  DeleteStoreMutation, ItemQuery, LookupQuery, RepriceMutationVariables,
} from './graphql';

export function cheapest(data: CatalogueQuery): Array<{ store: string; item: string; price: number }> {
  return data.stores.nodes.flatMap((store) =>
    store.items.nodes.map((item) => ({ store: store.name, item: item.name, price: item.price })));
}

export const nextPage = (data: CatalogueQuery): CatalogueQueryVariables => ({
  first: 10,
  after: data.stores.pageInfo.hasNextPage ? data.stores.pageInfo.endCursor : null,
});

export const newItem: CreateItemMutationVariables = { input: { name: 'Cheddar', price: 17.99, storeId: 'gid://storegraph/Store/1' } };

export const createdId = (data: CreateItemMutation): string => data.createItem.id;

export const storeName = (data: ItemQuery): string | undefined => data.item?.store.name;

export const deletedId = (data: DeleteStoreMutation): string => data.deleteStore;

// node(id:) is a union of the types that implement Node, told apart by __typename.
export function describe(data: LookupQuery): string {
  const node = data.node;
  if (!node) return 'nothing';
  switch (node.__typename) {
    case 'Store': return `store ${node.name}`;
    case 'Item': return `item ${node.name} (${node.price}) of ${node.store.id}`;
    case 'User': return `user ${node.id}`;
  }
}

// @ts-expect-error price is an Item's field, not every Node's
export const anyPrice = (data: LookupQuery): number | undefined => data.node?.price;

// @ts-expect-error price is a Float, not a string
export const badPrice: RepriceMutationVariables = { id: 'gid://storegraph/Item/1', price: '15.50' };

// @ts-expect-error storeId is required by CreateItemInput
export const noStore: CreateItemMutationVariables = { input: { name: 'x', price: 1 } };

// @ts-expect-error item may be null: the schema says so
export const unchecked = (data: ItemQuery): string => data.item.name;
