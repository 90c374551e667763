// Builds dist/ from src/ with esbuild: dist/lifeline.mjs (an ES module) and
// dist/lifeline.min.js (a minified script exposing the global Lifeline). Internal
// properties (named _x) are shortened in both. test/dist.test.mjs checks that the
// committed dist/ is what this builds.
import * as esbuild from 'esbuild'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))

export const builds = [
  {
    entryPoints: ['src/lifeline.js'],
    outfile: 'dist/lifeline.mjs',
    format: 'esm',
    banner: { js: '// lifeline-client: built from src/ by build.mjs; do not edit.' },
  },
  // Every byte counts here: no banner.
  { entryPoints: ['src/global.js'], outfile: 'dist/lifeline.min.js', format: 'iife', minify: true },
].map(b => ({
  ...b,
  absWorkingDir: dir,
  bundle: true,
  target: 'es2021',
  mangleProps: /^_/,
  legalComments: 'none',
  logLevel: 'warning',
}))

// build returns the built files as {path: text} without writing them.
export async function build() {
  const out = {}
  for (const b of builds) {
    const r = await esbuild.build({ ...b, write: false })
    for (const f of r.outputFiles) out[b.outfile] = f.text
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const b of builds) await esbuild.build(b)
}
