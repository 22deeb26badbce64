// Package adminsvc is the one home of the rules of the administration mutations: the admin
// REST operations and the GraphQL mutation resolvers both call it, so a rule is written once.
//
// Every mutation takes the caller's identity as an explicit Caller, refuses while the manager
// is not running (frozen: KindFrozen), enforces the caller's role before anything else
// (Backend.AI's allowed roles: domains, users and keypairs are superadmins' business;
// projects and their members also domain admins' within their own domain), validates its
// input and writes the database in one transaction. It answers the written rows as plain Go values
// (the sqlc row types), and refusals as *Error, whose Kind the front ends map to their own
// wire forms (problem+json on REST, {ok, msg} payloads or GraphQL errors on GraphQL).
//
// Inputs are one struct per create or modify; optional fields are pointers (nil: not given,
// so a modify leaves the column alone). Field names are the canonical names of Backend.AI's
// GraphQL inputs in Go spelling (total_resource_slots → TotalResourceSlots).
package adminsvc
