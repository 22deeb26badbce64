// Package gql is Backend.AI's GraphQL admin API: POST /admin/gql and the legacy POST
// /admin/graphql, schema-first with gqlgen.
//
// Layout: schema/*.graphqls is the schema (a faithful subset of the manager's, one file per
// area, mutations in <area>_mutation.graphqls); generated/ and model/models_gen.go are gqlgen's
// output (`go tool task generate:gql`); resolver/<area>.resolvers.go hold the resolvers of
// each schema file, resolver/loaders.go the per-request batch loaders and resolver/scope.go
// the role scoping every root field applies. This file's package serves the endpoint: the
// Backend.AI envelope, error objects, limits and the introspection switch.
package gql
