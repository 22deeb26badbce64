// Package functions holds Hangar's shared HTTP policy: the Backend.AI-compatible error model,
// request authentication (HMAC signing, roles), rate limiting, the frozen-manager guard, the
// Backend.AI parameter rules (JSON body on any method, query string when there is no body) and
// the operation helper every API area uses. The API areas live in sub-packages, one file per
// operation ("function"); functions/api wires them into one server.
//
// # Request pipeline
//
// Every request passes, outermost first:
//
//	recover (panic → 500 problem+json) → request id, log attributes, latency histogram,
//	access log → body read deadline (lifted once the body is read) → CORS, Server header
//	→ X-Method-Override → X-BackendAI-Version whitelist (400 before auth)
//	→ router (404 url-not-found for unknown and unclean paths, 405 method-not-allowed for a
//	  known path only)
//	→ huma operation middlewares: client address (Deps.ClientAddr: the TCP peer, or what a
//	  trusted proxy forwarded) → authenticate (Date, Authorization, signature)
//	  → rate limit → frozen guard → role check → text checks (path parameters, query values
//	  and JSON strings must be valid UTF-8 without NUL) and Backend.AI parameters → handler
//
// Outages answer as outages: a database that cannot be reached (refused or reset connections,
// shutdown or start-up, too many connections, connect or acquire timeouts; db.ErrUnavailable)
// is 503 service-unavailable with Retry-After wherever the error surfaces (authentication,
// FromDB, a handler's unexpected error). When Redis does not answer within RedisTimeout, the
// rate limit and the password-attempt limits (Deps.PasswordLimiter, internal/authlimit) fall
// back to per-process limits, counted in hangar_ratelimit_fallbacks_total.
//
// Connection limits (slow headers and bodies, idle connections, concurrent event streams and
// WebSockets per access key and per process) are described in connlimits.go.
//
// The order follows Backend.AI 24.03, so clients see the same status for the same mistake.
// Handlers mounted on Server.Mux() outside huma (the job dashboard, functions/dashboard) pass
// the outer layers and the router but none of the operation middlewares: they authenticate
// themselves.
package functions
