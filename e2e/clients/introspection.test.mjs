// The schema read by introspection, and the SDL at /schema.graphql, are exactly
// schema.graphqls, descriptions and all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  GraphQLSchema, buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema,
} from 'graphql';
import { baseURL, gql } from './helpers.mjs';

const normalized = (schema) => printSchema(lexicographicSortSchema(schema));
const schemaFile = () => buildSchema(readFileSync(new URL('../../schema.graphqls', import.meta.url), 'utf8'));

test('introspection round trip equals schema.graphqls', async () => {
  const data = await gql(getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
    schemaDescription: true, inputValueDeprecation: true,
  }));
  const served = buildClientSchema(data);
  // gqlgen declares @defer in every schema it serves (gqlparser's prelude); graphql-js does
  // not count it as a built-in, so it is the one directive the file does not spell out.
  const config = served.toConfig();
  assert.deepEqual(config.directives.map((d) => d.name).sort(), ['defer', 'deprecated', 'include', 'oneOf', 'skip', 'specifiedBy']);
  const withoutDefer = new GraphQLSchema({ ...config, directives: config.directives.filter((d) => d.name !== 'defer') });

  assert.equal(served.getType('Time').specifiedByURL, 'https://www.rfc-editor.org/rfc/rfc3339');
  assert.equal(normalized(withoutDefer), normalized(schemaFile()));
});

test('/schema.graphql equals schema.graphqls', async () => {
  const res = await fetch(`${baseURL}/schema.graphql`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  // Printed without the built-in directives, so there is no @defer to leave out here.
  assert.equal(normalized(buildSchema(await res.text())), normalized(schemaFile()));
});
