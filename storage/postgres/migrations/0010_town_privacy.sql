-- A town's privacy notice (issue 22), the twin of SQLite's 0025_town_privacy.sql: who is the
-- controller of the card's personal data, its address and how to reach it, as the JSON
-- {"controller","address","contact"} ('{}': not filled in; the notice then names the
-- municipality of the town). Ledger entries, rollups and closed months are untouched.
ALTER TABLE towns ADD COLUMN privacy TEXT COLLATE "C" NOT NULL DEFAULT '{}';
