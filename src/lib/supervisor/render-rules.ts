// Renders the transition table as Markdown for docs/failover.md: one section per situation, in
// the order a loop tries them, each with a diagram of its rows as a chain of questions and the
// rows themselves. A test compares the file with this output, so the docs cannot drift.
import { always, rules, situations, type Rule, type Situation } from './decide.js';

export const rulesBlockStart = '<!-- generated: failover rules (npm run docs:failover) -->';
export const rulesBlockEnd = '<!-- end of generated failover rules -->';

/** The heading and opening sentence of each section. */
const sections: Readonly<Record<Situation | 'any', { title: string; story: string }>> = {
  any: {
    title: 'Any situation: pause and switchover (tried first)',
    story:
      'An operator has said what to do: while the cluster is paused or a switchover is in ' +
      'progress, nothing automatic happens (a switchover hands over on its own primary). Both ' +
      "flags are read from the heartbeat row, so they hold only while this node's server " +
      'answers; when none of these rows match, the rows of the situation below decide.',
  },
  down: {
    title: 'Down: PostgreSQL is not running here',
    story:
      'The node starts its server as a standby, unless its data was a primary and the peer ' +
      'has become the primary since (then it must be rebuilt first), or it demoted itself ' +
      'and is still cut off.',
  },
  hung: {
    title: 'Hung: PostgreSQL runs but does not answer a new connection',
    story:
      'A server starting up looks like this for a while, so the node waits; a primary that ' +
      'stays like this for misses × interval is killed before its peer takes over.',
  },
  primary: {
    title: 'Primary: this node answers as the primary',
    story:
      'A primary keeps going unless another primary holds the VIP or a newer timeline, or ' +
      'it has been cut off from its peer and every gateway for isolation_timeout. Otherwise ' +
      'it holds the primary VIP (never taking one that another host answers for) and ' +
      'manages sync mode.',
  },
  standby: {
    title: 'Standby: this node answers as a standby',
    story:
      'A standby follows while anything shows a primary alive. When nothing has for ' +
      'heartbeat.misses checks (or the peer answers as a standby too), it promotes only ' +
      'after every reason not to has been ruled out, in this order.',
  },
};

function target(rule: Rule): string {
  return typeof rule.to === 'function' ? '(unchanged)' : rule.to;
}

/** Mermaid wants labels without quotes or brackets of its own. */
const label = (text: string): string => text.replace(/["[\]{}()]/g, '');

/** The situation's rows as a chain: each asks its question; yes goes to its state, no to the next. */
function diagram(rows: readonly Rule[], start: string): string[] {
  const lines = ['```mermaid', 'flowchart TD', `  start(["${label(start)}"])`];
  let previous = 'start';
  let edge = '-->';
  rows.forEach((rule, index) => {
    const id = `r${String(index + 1)}`;
    const result = `${id}s["${label(target(rule))}"]`;
    const from = rule.from === undefined ? '' : `, only after ${rule.from.join(' or ')}`;
    if (rule.when === always) {
      lines.push(`  ${previous} -->|otherwise: ${label(rule.name)}| ${result}`);
      return;
    }
    lines.push(`  ${previous} ${edge} ${id}{"${label(rule.name + from)}"}`);
    lines.push(`  ${id} -->|yes| ${result}`);
    previous = id;
    edge = '-->|no|';
  });
  if (previous !== 'start' && rows.at(-1)?.when !== always)
    lines.push(`  ${previous} -->|no| next(["the situation's own rows"])`);
  lines.push('```');
  return lines;
}

function section(situation: Situation | 'any', numbered: ReadonlyMap<Rule, number>): string[] {
  const rows = rules.filter((rule) => rule.situation === situation);
  const { title, story } = sections[situation];
  return [
    `### ${title}`,
    '',
    story,
    '',
    ...diagram(rows, situation === 'any' ? 'every loop' : situation),
    '',
    '| # | rule | from | to | when and why |',
    '|---|---|---|---|---|',
    ...rows.map((rule) => {
      const from = rule.from === undefined ? 'any' : rule.from.join(', ');
      const when = rule.when === always ? `**Catch-all.** ${rule.doc}` : rule.doc;
      return `| ${String(numbered.get(rule))} | \`${rule.name}\` | ${from} | ${target(rule)} | ${when} |`;
    }),
    '',
  ];
}

export function renderRulesMarkdown(): string {
  const numbered = new Map(rules.map((rule, index) => [rule, index + 1]));
  return [
    rulesBlockStart,
    '',
    'Each loop tries the rows for any situation first, then only the rows of its own ' +
      'situation, in order; the first that matches decides. Each situation ends in a ' +
      'catch-all, so some row always decides. "from" is the previous state, where a row ' +
      'depends on it.',
    '',
    ...section('any', numbered),
    ...situations.flatMap((situation) => section(situation, numbered)),
    rulesBlockEnd,
  ].join('\n');
}
