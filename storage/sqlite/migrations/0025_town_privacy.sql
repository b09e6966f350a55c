-- A town's privacy notice (issue 22): who is the controller of the card's personal data, its
-- address and how to reach it, as the JSON {"controller","address","contact"} ('{}': not
-- filled in; the notice then names the municipality of the town). Nothing else changes:
-- ledger entries, rollups and closed months are untouched.
ALTER TABLE towns ADD COLUMN privacy TEXT NOT NULL DEFAULT '{}';
