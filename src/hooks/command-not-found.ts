// An unknown command gets the same one-line error as every other usage error.
import { Errors, type Hook } from '@oclif/core';
import { formatErrorLine } from '../lib/cli/base-command.js';
import { SkypgError } from '../lib/common/errors.js';
import { ExitCode } from '../lib/common/exit-codes.js';
import { closestMatch } from '../lib/config/suggest.js';

const hook: Hook<'command_not_found'> = function (options) {
  const spaced = (id: string): string => id.replaceAll(':', ' ');
  const commands = this.config.commandIDs.map(spaced);
  const match = closestMatch(spaced(options.id), commands);
  const suggestion = match === undefined ? '' : ` (did you mean "${match}"?)`;
  const error = new SkypgError('USAGE', `unknown command "${spaced(options.id)}"${suggestion}`, {
    hint: `'${this.config.bin} --help' lists every command`,
  });
  process.stderr.write(`${formatErrorLine(error)}\n`);
  return Errors.exit(ExitCode.error);
};

export default hook;
