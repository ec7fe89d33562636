// npm run docs:failover: rewrites the generated block of docs/failover.md from the rule table.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  renderRulesMarkdown,
  rulesBlockEnd,
  rulesBlockStart,
} from '../src/lib/supervisor/render-rules.js';

const file = join(import.meta.dirname, '..', 'docs', 'failover.md');
const text = await readFile(file, 'utf8');
const start = text.indexOf(rulesBlockStart);
const end = text.indexOf(rulesBlockEnd);
if (start < 0 || end < start) throw new Error(`${file} lacks the generated block markers`);
await writeFile(
  file,
  text.slice(0, start) + renderRulesMarkdown() + text.slice(end + rulesBlockEnd.length),
);
console.log(`updated ${file}`);
