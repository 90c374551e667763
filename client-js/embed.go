// Package clientjs holds the built browser client, client-js/dist, so that the server
// can serve it at {mount}/lifeline.js (the ES module) and {mount}/lifeline.min.js (the
// script-tag build), and the request module at {mount}/request.js and
// {mount}/request.min.js, and a page needs no build step. The sources are client-js/src;
// client-js/test/dist.test.mjs checks that dist is built from them.
package clientjs

import "embed"

// Dist holds dist/lifeline.mjs, dist/lifeline.min.js, dist/request.mjs and
// dist/request.min.js.
//
//go:embed dist/lifeline.mjs dist/lifeline.min.js dist/request.mjs dist/request.min.js
var Dist embed.FS
