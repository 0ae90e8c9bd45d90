# Policy "nodeshare-signer-kv": alternative signer mode where the signing key is held in KV v2
# (mount "secret/") instead of transit. Read-only, one secret, nothing else.
# KV v2 puts data under secret/data/<path>; the signer reads the current version only.
path "secret/data/nodeshare/signer-key" {
  capabilities = ["read"]
}
