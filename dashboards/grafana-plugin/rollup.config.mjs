// Builds dist/: module.js as an AMD module (how Grafana loads plugins; the
// @grafana/*, react and rxjs imports are provided by Grafana), plus
// plugin.json with version and date, the logo, README and CHANGELOG.
import { readFileSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import esbuild from 'rollup-plugin-esbuild';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const EXTERNAL = ['react', 'react-dom', '@grafana/data', '@grafana/runtime', '@grafana/ui', 'rxjs', 'lodash'];

function staticFiles() {
  return {
    name: 'static-files',
    writeBundle() {
      mkdirSync('dist/img', { recursive: true });
      const plugin = readFileSync('src/plugin.json', 'utf8')
        .replace('%VERSION%', pkg.version)
        .replace('%TODAY%', new Date().toISOString().slice(0, 10));
      writeFileSync('dist/plugin.json', plugin);
      copyFileSync('src/img/logo.svg', 'dist/img/logo.svg');
      copyFileSync('README.md', 'dist/README.md');
      copyFileSync('CHANGELOG.md', 'dist/CHANGELOG.md');
    },
  };
}

export default {
  input: 'src/module.ts',
  external: (id) => EXTERNAL.some((e) => id === e || id.startsWith(`${e}/`)),
  output: { file: 'dist/module.js', format: 'amd', sourcemap: true },
  plugins: [esbuild({ target: 'es2020', jsx: 'transform', tsconfig: 'tsconfig.json', loaders: { '.js': 'js' } }), staticFiles()],
};
