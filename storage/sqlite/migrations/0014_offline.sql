-- Offline tills (issue 12): a redemption may carry the time it happened at the till
-- (occurred_at, stored in created_at so the month and day rules need no change; recorded_at
-- is when the server stored it), and a sale an offline till could not know broke a rule is a
-- conflict (conflict_reason) for the office to accept or reject. A conflict has no limit_key,
-- so the partial unique index of once/daily limits never sees it.
ALTER TABLE redemptions ADD COLUMN recorded_at INTEGER;
ALTER TABLE redemptions ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
ALTER TABLE redemptions ADD COLUMN conflict_reason TEXT;
ALTER TABLE redemptions ADD COLUMN decided_at INTEGER;
ALTER TABLE redemptions ADD COLUMN decision TEXT;
ALTER TABLE redemptions ADD COLUMN decision_note TEXT NOT NULL DEFAULT '';
-- The offline pack reads a town's blocked cards and a merchant's live limited uses.
CREATE INDEX cards_blocked ON cards (blocked_at) WHERE blocked_at IS NOT NULL;
CREATE INDEX redemptions_merchant_limit ON redemptions (merchant_id) WHERE limit_key IS NOT NULL AND voided_at IS NULL;
