// Typed client generation: @graphql-codegen/cli generates TypeScript types from the schema as
// introspected from the server and the operations in codegen/, and tsc type-checks code
// written against them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { getIntrospectionQuery } from 'graphql';
import { gql, outDir } from './helpers.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

test('codegen types from the introspected schema pass tsc --noEmit', async () => {
  const dir = outDir('codegen');
  const schemaFile = join(dir, 'schema.json');
  writeFileSync(schemaFile, JSON.stringify({ data: await gql(getIntrospectionQuery()) }));

  await generate({
    schema: schemaFile,
    documents: here('codegen/operations.graphql'),
    generates: {
      [join(dir, 'graphql.ts')]: {
        plugins: ['typescript-operations'],
        config: { scalars: { ID: 'string', Time: 'string' } },
      },
    },
    silent: true,
  }, true);

  copyFileSync(here('codegen/usage.ts'), join(dir, 'usage.ts'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'es2022', moduleResolution: 'bundler', skipLibCheck: true, types: [] },
    files: ['graphql.ts', 'usage.ts'],
  }));
  try {
    await promisify(execFile)(process.execPath, [here('node_modules/typescript/bin/tsc'), '-p', dir]);
  } catch (err) {
    assert.fail(`tsc --noEmit failed:\n${err.stdout}${err.stderr}`);
  }
});
