// Package apifuzz holds the API's standing robustness tests, driven by the committed OpenAPI
// document (openapi/openapi.json) so that every operation, including ones added later, is
// covered without editing the tests:
//
//   - TestAPIFuzz sends generated hostile variants of every operation's parameters, path,
//     query, headers and body, signed as a user and as a superadmin, and fails on any 5xx, a
//     4xx that is not problem+json, a recovered panic, a hang, or an API that no longer
//     answers afterwards. It is deterministic (HANGAR_FUZZ_SEED) and bounded
//     (HANGAR_FUZZ_REQUESTS, a few thousand by default).
//   - TestTenantIsolation checks every route against a user's sessions and objects (templates,
//     error logs, dotfiles and bootstrap script, the project's and domain's dotfiles; GraphQL
//     documents naming them) as another user, a monitor and another domain's admin: refused,
//     nothing leaked, nothing changed. An operation not classified in its table fails the test.
//
// The package has no non-test code besides this comment.
package apifuzz
