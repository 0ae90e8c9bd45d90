// Package vault is nodeshare's door to HashiCorp Vault (or OpenBao), built on
// github.com/hashicorp/vault/api.
//
// It owns the treasury signing key's use: in the default transit mode the
// Ed25519 key never leaves Vault; TransitIdentity implements agent-go's
// identity.Identity by calling transit/sign, so every IC request nodeshare
// sends for the treasury is signed inside Vault. Every signature is checked
// against the key's public key before it is used (a misconfigured mount or
// key fails loudly, not with a rejected ledger call).
//
// Auth is a token or AppRole; KeepAlive renews the token with a
// LifetimeWatcher and logs in again (AppRole) whenever renewal ends. The
// alternative key mode, KVIdentity, reads a PEM Ed25519 key from KV v2.
// Every signing failure wraps ErrSigning, so a caller knows the request was
// never sent.
//
// It never logs or returns a token or key material, and it needs only the
// `nodeshare-signer` policy (ops/vault/signer-policy.hcl), or
// `nodeshare-signer-kv` in KV mode.
package vault
