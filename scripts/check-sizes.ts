/**
 * `npm run check:sizes`: no function longer than 80 lines and no class longer than 250 in the
 * product's folders and its tooling's (the project's readability limits), checked on the syntax tree.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const FOLDERS = ['src', 'worker', 'server', 'protocol', 'react', 'public', 'bench', 'scripts'];
const MAX_FUNCTION_LINES = 80;
const MAX_CLASS_LINES = 250;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function nameOf(node: ts.Node, file: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(file);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  return '(anonymous)';
}

function oversized(path: string): string[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const limit = ts.isClassLike(node) ? MAX_CLASS_LINES : ts.isFunctionLike(node) && 'body' in node && node.body ? MAX_FUNCTION_LINES : 0;
    if (limit) {
      const lines = file.getLineAndCharacterOfPosition(node.getEnd()).line - file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
      const kind = ts.isClassLike(node) ? 'class' : 'function';
      if (lines > limit) found.push(`${path}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1} ${kind} ${nameOf(node, file)}: ${lines} lines (limit ${limit})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const problems = FOLDERS.flatMap(sourceFiles).flatMap(oversized);
for (const line of problems) console.error(line);
console.log(problems.length === 0 ? 'sizes: every function ≤ 80 lines, every class ≤ 250' : `sizes: ${problems.length} over the limits`);
process.exit(problems.length === 0 ? 0 : 1);
