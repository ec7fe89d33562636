// The docs as a whole stay true to the code: the generated command reference is current, every
// guide is reachable from the README, and no guide names a configuration key that does not exist.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  anchorOf,
  commandIds,
  loadCommands,
  referenceFile,
  renderCommandReference,
} from '../../scripts/command-reference.js';
import { configSchema } from '../../src/lib/config/schema.js';
import { keyPaths } from '../../src/lib/config/schema-kit.js';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string): Promise<string> => readFile(join(root, file), 'utf8');

/** GitHub's anchors for the headings of a Markdown text (code blocks skipped). */
function headingAnchors(text: string): Set<string> {
  const withoutCode = text.replace(/^```[\s\S]*?^```/gm, '');
  return new Set(
    [...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      (match[1] ?? '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replaceAll(' ', '-'),
    ),
  );
}

async function guides(): Promise<string[]> {
  const files = await readdir(join(root, 'docs'));
  return files.filter((file) => file.endsWith('.md')).sort();
}

describe('docs as a whole', () => {
  it('docs/commands.md is current (npm run docs:commands regenerates it)', async () => {
    const current = await readFile(referenceFile, 'utf8').catch(() => '');
    const expected = renderCommandReference(await loadCommands());
    assert.ok(current === expected, 'docs/commands.md is out of date: run npm run docs:commands');
  });

  it('docs/commands.md has a section for every command', async () => {
    const doc = await read('docs/commands.md');
    const missing = (await commandIds()).filter(
      (id) => !doc.includes(`\n## \`skypg ${id}\`\n`) || !doc.includes(`(#${anchorOf(id)})`),
    );
    assert.deepEqual(missing, []);
  });

  it('the README links every guide in docs/, and every docs/ link in the README exists', async () => {
    const readme = await read('README.md');
    const files = await guides();
    const unlinked = files.filter((file) => !readme.includes(`](docs/${file})`));
    assert.deepEqual(unlinked, [], 'add these to the README documentation list');
    const linked = [...readme.matchAll(/\]\(docs\/([^)#]+)/g)].map((match) => match[1]);
    const dangling = linked.filter((file) => file !== undefined && !files.includes(file));
    assert.deepEqual(dangling, []);
  });

  it('links between guides point at files and headings that exist', async () => {
    const files = await guides();
    const anchors = new Map<string, Set<string>>();
    for (const file of files) anchors.set(file, headingAnchors(await read(join('docs', file))));
    const dangling: string[] = [];
    for (const file of files) {
      const text = await read(join('docs', file));
      for (const match of text.matchAll(/\]\(([a-z0-9-]+\.md)?(?:#([^)]*))?\)/g)) {
        const target = match[1] ?? file;
        const anchor = match[2];
        if (!files.includes(target)) dangling.push(`${file} -> ${target}`);
        else if (anchor !== undefined && anchors.get(target)?.has(anchor) !== true)
          dangling.push(`${file} -> ${target}#${anchor}`);
      }
    }
    assert.deepEqual(dangling, []);
  });

  it('every `section.key` the guides and README name is a configuration key', async () => {
    const known = keyPaths(configSchema).map((path) => path.join('.'));
    const sections = new Set([...known.map((path) => path.split('.')[0] ?? ''), 'fence']);
    // `fence.timeout` is short for nodes[].fence.timeout; `vip.*.label` means any VIP's label.
    const exists = (token: string): boolean => {
      const wanted = token.replaceAll('[]', '').split('.');
      return known.some((path) => {
        const segments = path.split('.');
        const tail = segments.slice(segments.length - wanted.length);
        return (
          tail.length === wanted.length &&
          (segments.length === wanted.length || wanted[0] === 'fence') &&
          tail.every((segment, index) => wanted[index] === '*' || wanted[index] === segment)
        );
      });
    };
    const unknown: string[] = [];
    for (const file of ['README.md', ...(await guides()).map((name) => join('docs', name))]) {
      const text = await read(file);
      for (const match of text.matchAll(/`([a-z_]+(?:\[\])?(?:\.(?:[a-z_]+|\*)(?:\[\])?)+)`/g)) {
        const token = match[1] ?? '';
        const section = token.split(/[.[]/)[0] ?? '';
        const fileName = /\.(ts|js|md|json|ya?ml|conf|sh)$/.test(token); // e.g. `vip.ts`
        if (sections.has(section) && !fileName && !exists(token)) unknown.push(`${file}: ${token}`);
      }
    }
    assert.deepEqual(unknown, []);
  });
});
