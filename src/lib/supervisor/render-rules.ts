// Renders the transition table as Markdown and a Mermaid diagram, for docs/failover.md.
// A test compares the file with this output, so the docs cannot drift from the policy.
import { rules } from './decide.js';

export const rulesBlockStart = '<!-- generated: failover rules (npm run docs:failover) -->';
export const rulesBlockEnd = '<!-- end of generated failover rules -->';

function target(rule: (typeof rules)[number]): string {
  return typeof rule.to === 'function' ? '(unchanged)' : rule.to;
}

export function renderRulesMarkdown(): string {
  const table = [
    '| # | rule | from | to | when and why |',
    '|---|---|---|---|---|',
    ...rules.map((rule, index) => {
      const from = rule.from === '*' ? 'any' : rule.from.join(', ');
      return `| ${index + 1} | \`${rule.name}\` | ${from} | ${target(rule)} | ${rule.doc} |`;
    }),
  ];
  const edges = new Set<string>();
  for (const rule of rules) {
    const to = typeof rule.to === 'function' ? undefined : rule.to;
    if (to === undefined) continue;
    const froms = rule.from === '*' ? ['any'] : rule.from;
    for (const from of froms) if (from !== to) edges.add(`  ${from} --> ${to}: ${rule.name}`);
  }
  const diagram = ['```mermaid', 'stateDiagram-v2', '  [*] --> starting', ...edges, '```'];
  return [
    rulesBlockStart,
    '',
    ...diagram,
    '',
    'Rows are tried in this order; the first that matches decides.',
    '',
    ...table,
    '',
    rulesBlockEnd,
  ].join('\n');
}
