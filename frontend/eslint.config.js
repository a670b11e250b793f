// ESLint flat config for the Kafka-ML UI: `npm run lint` runs it together with `prettier --check`.
// Formatting is Prettier's job (.prettierrc.json); ESLint only reports likely bugs.
import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      globals: globals.browser,
    },
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring to omit a key, ignored parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Hook dependency lists are a correctness check here, not a style hint.
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    // Node scripts: this config and the browser journey.
    files: ['**/*.{js,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.node,
    },
  },
  {
    // The journey's page.evaluate() callbacks run in the browser: document and window are known there.
    files: ['e2e/**/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
