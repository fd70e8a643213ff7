// Package gmi is keysweep's key store for the API keys of one GMI Cloud
// organization. It implements the engine's KeyStore port with the GMI
// Cloud IAM Service API (OpenAPI 3.0.3, "IAM Service API" 2.4.0, served
// under https://console.gmicloud.ai/api/v1):
//
//   - "List API keys": GET /organizations/{orgId}/api-keys. The operation
//     takes no parameter besides orgId and answers {"keys": [...]}: there
//     is no paging to follow. Each key carries id, name, type, scope,
//     partialKey, createdAt and expiresAt (Unix seconds) and an owner (id,
//     firstName, lastName). An organization owner or admin sees every key
//     of the organization; an organization user only their own.
//   - "Delete an API key": DELETE /organizations/{orgId}/api-keys/{apiKeyId}
//     (200 without a body). Its documented failures are 400 request/0 (an
//     invalid field, named in validationDetail), 404 organization/2 (the
//     organization does not exist) and 500 api-key/1201, api-key/1600 and
//     organization/1201 (database errors). The reference documents no
//     answer for an unknown key: see Store.Delete.
//   - "Retrieve user's profile": GET /me/profile tells which organization
//     the session's user belongs to and the user's role in it.
//   - "Refresh session": PATCH /me/sessions with the CE-ClientId header and
//     {"refreshToken"} returns a new accessToken and refreshToken.
//
// Errors of every operation are ErrStatusMsg bodies (group, code, message,
// traces, validationDetail); see APIError.
//
// A GMI key has no last-use date and no active/inactive status, so the
// store's Capabilities rule out deactivation and the inactivity rule; keys
// carry an expiry date. See docs/GMI.md for what keysweep can and cannot
// judge for GMI keys.
//
// Authentication is a bearer access token issued by the session APIs
// ("Create an auth token", POST /me/auth-tokens, then "Create session",
// POST /me/sessions). A login with two-factor authentication needs a
// person's one-time code, so keysweep never logs in: its Secret holds a
// session's tokens, and the store renews them through "Refresh session"
// when the API refuses the access token, handing the renewed tokens to
// Config.OnRenew to be stored. Tokens are never logged nor put in errors.
package gmi
