-- Signed payout approvals (docs/payouts.md "Approvals are signatures"):
-- each approval keeps the approver's public key (DER, hex) and its
-- signature (hex) over schemas.PayoutApprovalMessage(dao, period,
-- manifest_sha256), so an auditor can check it from the row alone. Rows
-- from before this migration have neither and count for nothing.
ALTER TABLE payout_approvals ADD COLUMN IF NOT EXISTS public_key_der String DEFAULT '';
ALTER TABLE payout_approvals ADD COLUMN IF NOT EXISTS signature String DEFAULT '';
