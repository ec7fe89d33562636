// docs/troubleshooting.md has one section per error code, headed exactly "### `CODE`", and
// no section for a code that does not exist. Adding a code to errorCodes means adding its section.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { errorCodes } from '../../src/lib/common/errors.js';

const file = join(import.meta.dirname, '..', '..', 'docs', 'troubleshooting.md');

/** Every "### `NAME`" heading: the sections that are about one error code. */
function codeHeadings(text: string): string[] {
  return [...text.matchAll(/^### `([^`]+)`\s*$/gm)].map((match) => match[1] ?? '');
}

describe('docs/troubleshooting.md and the error codes', () => {
  it('has a "### `CODE`" section for every code in errorCodes', async () => {
    const headings = new Set(codeHeadings(await readFile(file, 'utf8')));
    const missing = Object.keys(errorCodes).filter((code) => !headings.has(code));
    assert.deepEqual(missing, [], 'add a section for each of these to docs/troubleshooting.md');
  });

  it('names no code that does not exist, and each only once', async () => {
    const headings = codeHeadings(await readFile(file, 'utf8'));
    const unknown = headings.filter((code) => !Object.hasOwn(errorCodes, code));
    assert.deepEqual(unknown, [], 'these sections are about codes errorCodes does not have');
    const repeated = headings.filter((code, index) => headings.indexOf(code) !== index);
    assert.deepEqual(repeated, []);
  });

  it('finds the headings it checks (the format is "### `CODE`")', () => {
    assert.deepEqual(codeHeadings('## Errors\n\n### `USAGE`\n\ntext\n### not a code\n'), ['USAGE']);
  });
});
