// The docs must not drift from the code: every config key, error code and command is documented.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commandIds } from '../../scripts/command-reference.js';
import { configSchema } from '../../src/lib/config/schema.js';
import { keyPaths } from '../../src/lib/config/schema-kit.js';
import { errorCodes } from '../../src/lib/common/errors.js';
import { renderRulesMarkdown } from '../../src/lib/supervisor/render-rules.js';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string): Promise<string> => readFile(join(root, file), 'utf8');

describe('documentation stays true to the code', () => {
  it('docs/configuration.md names every configuration key', async () => {
    const doc = await read('docs/configuration.md');
    const paths = keyPaths(configSchema).map((path) => {
      const [first, ...rest] = path;
      if (first !== 'nodes' || rest.length === 0) return path.join('.');
      // A node's postgres block overrides the top-level keys documented once, as postgres.*.
      if (rest[0] === 'postgres' && rest.length > 1) return rest.join('.');
      return ['nodes[]', ...rest].join('.');
    });
    assert.ok(paths.length > 30, 'the schema walk found too few keys');
    const missing = paths.filter(
      (path) => !doc.includes(`\`${path}\``) && !doc.includes(`### \`${path}\``),
    );
    assert.deepEqual(missing, []);
  });

  it('docs/cli.md lists every error code', async () => {
    const doc = await read('docs/cli.md');
    const missing = Object.keys(errorCodes).filter(
      (code) => !new RegExp(`^\\| \`${code}\` +\\|`, 'm').test(doc),
    );
    assert.deepEqual(missing, []);
  });

  it('the README lists every command', async () => {
    const readme = await read('README.md');
    const missing = (await commandIds()).filter((id) => !readme.includes(`skypg ${id}`));
    assert.deepEqual(missing, []);
  });

  it('docs/failover.md carries the current rule table (npm run docs:failover regenerates it)', async () => {
    const doc = await read('docs/failover.md');
    assert.ok(
      doc.includes(renderRulesMarkdown()),
      'docs/failover.md is out of date: run npm run docs:failover',
    );
  });
});
