// Prints a snippet the UI shows, rendered by frontend/src/lib/snippets.ts itself (transpiled
// with the frontend's TypeScript), so Python tests can run exactly what a user copies.
// Usage: node tests/render_snippet.mjs <function name> '<JSON argument>'
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const frontend = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'frontend');
const ts = createRequire(path.join(frontend, 'package.json'))('typescript');
const source = fs.readFileSync(path.join(frontend, 'src', 'lib', 'snippets.ts'), 'utf8');
const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2020 } }).outputText;
const snippets = await import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));
const [, , name, argument] = process.argv;
process.stdout.write(snippets[name](JSON.parse(argument)));
