// ESLint flat config: type-aware rules for src/, test/ and bench/; Prettier owns formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'oclif.manifest.json'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // The architecture's boundary: only the adapters talk to the outside libraries (PostgreSQL's
    // wire protocol, child processes, YAML); everything else goes through them.
    files: ['src/**/*.ts'],
    ignores: [
      'src/lib/pg/connect.ts',
      'src/lib/process/run-program.ts',
      'src/lib/process/probe-helper.ts',
      'src/lib/config/load.ts',
      'src/lab-agent.ts',
      'src/lib/lab/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['pg', 'execa', 'yaml', 'node:child_process'].map((name) => ({
            name,
            message: `only the adapters (pg/connect.ts, process/run-program.ts, process/probe-helper.ts, config/load.ts) import ${name}`,
          })),
        },
      ],
    },
  },
  {
    // Tests read optional results directly; a wrong guess fails the assertion anyway.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-condition': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
