'use strict';
// require() from this package's own location, in both builds: the ESM build
// has no require of its own, and import.meta cannot be written in sources
// that also build to CommonJS. Copied as is into dist/esm and dist/cjs.
exports.peerRequire = (id) => require(id);
