// A rewrite of the esbuild bundles' (packages/agent/bundle.js,
// packages/cli/bundle.js) helper for ES imports of CommonJS modules, so that
// a namespace costs one object instead of a getter and a closure per export.
/**
 * esbuild's `__toESM` (minified): the namespace an ES import of a CommonJS
 * module gets (Node's own modules and the CommonJS packages: `import * as fs`,
 * `import fs from`, `import { x } from`). It is a new object with a getter,
 * and a closure with a context of its own, for every export of the module:
 * 47 of them in the agent's bundle (`fs` 8 times, `path` 10, grpc-js's index
 * 5), some 1,400 accessors held for the daemon's whole life (heap snapshot,
 * docs/benchmarks/startup-and-footprint.md); in the CLI's, each `import()` a command
 * makes (dockerode, YAML, the X.509 library). Named groups: the helper, the module, its
 * Node-mode flag, the target, and Object.create, Object.getPrototypeOf,
 * esbuild's property copier and Object.defineProperty.
 */
const TO_ESM = /var (?<name>[\w$]+)=\((?<mod>[\w$]+),(?<node>[\w$]+),(?<target>[\w$]+)\)=>\(\k<target>=\k<mod>!=null\?(?<create>[\w$]+)\((?<proto>[\w$]+)\(\k<mod>\)\):\{\},(?<copy>[\w$]+)\(\k<node>\|\|!\k<mod>\|\|!\k<mod>\.__esModule\?(?<define>[\w$]+)\(\k<target>,"default",\{value:\k<mod>,enumerable:!0\}\):\k<target>,\k<mod>\)\);/g;

/**
 * `text` (an esbuild bundle) with its `__toESM` making each namespace an object
 * whose prototype is the module itself, instead of a copy with a getter per
 * export: every read still reaches the module's current value (as the getter
 * did), `default` is still the module (or its own `default` for a transpiled
 * ES module), and nothing is made per export. A module that is not an object
 * (a string, a number) keeps esbuild's way. Throws if esbuild wrote the helper otherwise.
 */
function plainNamespaces(text) {
  const found = text.match(TO_ESM)?.length ?? 0;
  if (found !== 1) throw new Error(`expected esbuild's __toESM once in the bundle, found it ${found} times (esbuild changed it? see TO_ESM)`);
  return text.replace(TO_ESM, (...match) => {
    const { name, mod, node, target, create, proto, define } = match.at(-1);
    return `var ${name}=(${mod},${node},${target})=>(${target}=${mod}!=null?${create}(typeof ${mod}=="object"||typeof ${mod}=="function"?${mod}:${proto}(${mod})):{},${node}||!${mod}||!${mod}.__esModule?${define}(${target},"default",{value:${mod},enumerable:!0}):${target});`;
  });
}

module.exports = plainNamespaces;
