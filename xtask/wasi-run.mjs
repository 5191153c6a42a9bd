// Runs a wasm32-wasip1 test binary under Node's WASI (V8, the engine Envoy uses), with the host
// file system visible, so tests that read conformance data run inside a Wasm engine unchanged.
// Used as CARGO_TARGET_WASM32_WASIP1_RUNNER by `cargo xtask test`.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [module, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [module, ...args],
  env: process.env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const wasm = await WebAssembly.compile(await readFile(module));
// The filters link the Proxy-Wasm host functions; logic tests never call them, so any call traps.
const imports = wasi.getImportObject();
for (const { module: from, name, kind } of WebAssembly.Module.imports(wasm)) {
  if (kind === 'function' && !(imports[from] && name in imports[from])) {
    imports[from] ??= {};
    imports[from][name] = () => {
      throw new Error(`host function ${from}.${name} called outside a Proxy-Wasm host`);
    };
  }
}
const instance = await WebAssembly.instantiate(wasm, imports);
// A filter's module also exports the Proxy-Wasm `_initialize`; the test binary's entry is `_start`.
const { _start, memory } = instance.exports;
process.exitCode = wasi.start({ exports: { _start, memory } });
