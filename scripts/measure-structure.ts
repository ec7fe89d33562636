// Prints the structure figures issue 15 asks to compare before and after a restructuring: the
// longest functions, the largest files, the loose files in src/lib, and how many unit tests
// exercise something other than decide(). Run: npm run measure:structure [-- DIR]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ?? process.cwd();

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return filesUnder(path, suffix);
    return path.endsWith(suffix) ? [path] : [];
  });
}

interface Span {
  name: string;
  lines: number;
}

function functionSpans(file: string): Span[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const spans: Span[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = node.name;
      const name = named === undefined ? '(anonymous)' : named.getText(source);
      spans.push({ name: `${relative(root, file)}:${start + 1} ${name}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

const sources = filesUnder(join(root, 'src'), '.ts');
const functions = sources.flatMap(functionSpans).sort((a, b) => b.lines - a.lines);
const files = sources
  .map((file) => ({
    name: relative(root, file),
    lines: readFileSync(file, 'utf8').split('\n').length,
  }))
  .sort((a, b) => b.lines - a.lines);
const loose = readdirSync(join(root, 'src', 'lib')).filter((entry) =>
  statSync(join(root, 'src', 'lib', entry)).isFile(),
);
const unitTests = filesUnder(join(root, 'test', 'unit'), '.test.ts');
const countTests = (file: string): number =>
  (readFileSync(file, 'utf8').match(/^\s*it\(/gm) ?? []).length;
const outsideDecide = unitTests.filter((file) => !file.endsWith('decide.test.ts'));

console.log(`longest functions (lines):`);
for (const span of functions.slice(0, 5))
  console.log(`  ${String(span.lines).padStart(4)}  ${span.name}`);
console.log(`largest files (lines):`);
for (const file of files.slice(0, 5))
  console.log(`  ${String(file.lines).padStart(4)}  ${file.name}`);
console.log(`loose files in src/lib: ${loose.length}`);
console.log(
  `unit test files outside decide.test.ts: ${outsideDecide.length}, with ${outsideDecide.reduce((sum, file) => sum + countTests(file), 0)} it() blocks (decide.test.ts: ${unitTests.filter((file) => file.endsWith('decide.test.ts')).reduce((sum, file) => sum + countTests(file), 0)}, plus its table rows)`,
);
