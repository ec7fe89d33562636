// npm run docs:commands: rewrites docs/commands.md from the command classes in src/commands.
// No build needed: tsx imports the TypeScript sources (see scripts/command-reference.ts).
import { writeFile } from 'node:fs/promises';
import { loadCommands, referenceFile, renderCommandReference } from './command-reference.js';

const entries = await loadCommands();
await writeFile(referenceFile, renderCommandReference(entries));
console.log(`updated ${referenceFile} (${entries.length} commands)`);
