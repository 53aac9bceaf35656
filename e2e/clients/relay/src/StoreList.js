// A page of stores, each with its card and the first page of its items: normalising it puts
// stores and items into one record store, keyed by their global IDs.
// relay.test.mjs never runs this file: it uses the artifacts compiled from it.
graphql`
  query StoreListQuery($filter: StoreFilter, $first: Int!, $itemCount: Int!) {
    stores(first: $first, filter: $filter) {
      edges {
        node {
          id
          ...StoreCard_store
          ...StoreItems_store @arguments(count: $itemCount)
        }
      }
    }
  }
`;

graphql`
  query StoreListNodesQuery($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      id
      ... on Store {
        name
      }
      ... on Item {
        name
        price
      }
    }
  }
`;
