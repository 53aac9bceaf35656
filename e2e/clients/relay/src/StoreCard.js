// A store's card: relay-compiler turns @refetchable into StoreCardRefetchQuery, which fetches
// the fragment again through Query.node(id:) with the store's global ID.
// relay.test.mjs never runs this file: it uses the artifacts compiled from it.
graphql`
  fragment StoreCard_store on Store @refetchable(queryName: "StoreCardRefetchQuery") {
    id
    name
    createdAt
    updatedAt
  }
`;
