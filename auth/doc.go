// Package auth holds what signing in needs that is neither HTTP nor GraphQL nor SQL: password
// hashing, access and refresh tokens, the signed-in principal in a context, rate limits and
// the cache of session liveness.
package auth
