# Policy "nodeshare-signer": what the payout signer's token may do, and nothing else.
# The treasury key is a transit ed25519 key; it never leaves Vault.

# Sign payout payloads with the treasury key (POST transit/sign/nodeshare-treasury).
path "transit/sign/nodeshare-treasury" {
  capabilities = ["update"]
}

# Read the key's metadata, which carries its public key(s) per version, so the signer
# can verify and publish the treasury principal.
path "transit/keys/nodeshare-treasury" {
  capabilities = ["read"]
}

# Sign sponsors' statements with the statement key (nodeshare statement;
# docs/finance.md), and read its public key to publish and verify them.
path "transit/sign/nodeshare-statements" {
  capabilities = ["update"]
}

path "transit/keys/nodeshare-statements" {
  capabilities = ["read"]
}

# Sign the audit trail's chain tips (nodeshare audit sign-tips;
# docs/auditing.md), and read the key's public key to verify them.
path "transit/sign/nodeshare-audit" {
  capabilities = ["update"]
}

path "transit/keys/nodeshare-audit" {
  capabilities = ["read"]
}
