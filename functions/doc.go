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
//	access log → CORS, Server header
//	→ X-Method-Override → X-BackendAI-Version whitelist (400 before auth)
//	→ router (404 url-not-found, 405 method-not-allowed)
//	→ huma operation middlewares: authenticate (Date, Authorization, signature)
//	  → rate limit → frozen guard → role check → Backend.AI parameters → handler
//
// The order follows Backend.AI 24.03, so clients see the same status for the same mistake.
// Handlers mounted on Server.Mux() outside huma (the job dashboard, functions/dashboard) pass
// the outer layers and the router but none of the operation middlewares: they authenticate
// themselves.
package functions
