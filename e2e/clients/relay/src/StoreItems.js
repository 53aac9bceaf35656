// A store's items, paged with @connection: relay-compiler generates StoreItemsPaginationQuery
// (through Query.node(id:)) from @refetchable and @argumentDefinitions; the mutations add an
// item to the connection with @appendNode and remove a deleted item's record with @deleteRecord.
// relay.test.mjs never runs this file: it uses the artifacts compiled from it.
graphql`
  fragment StoreItems_store on Store
  @refetchable(queryName: "StoreItemsPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    id
    items(first: $count, after: $cursor) @connection(key: "StoreItems_items") {
      __id
      edges {
        node {
          id
          name
          price
        }
      }
    }
  }
`;

graphql`
  mutation StoreItemsCreateItemMutation($input: CreateItemInput!, $connections: [ID!]!) {
    createItem(input: $input) @appendNode(connections: $connections, edgeTypeName: "ItemEdge") {
      id
      name
      price
    }
  }
`;

graphql`
  mutation StoreItemsDeleteItemMutation($id: ID!) {
    deleteItem(id: $id) @deleteRecord
  }
`;
