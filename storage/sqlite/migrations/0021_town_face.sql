-- A town's own face (issue 19): the name of its card per language and its colour. card_name
-- is a JSON {lang: text} of the names set ('{}': every language reads the town's name +
-- " Card"); color is '#rrggbb' ('': the default colour). Nothing else changes: ledger
-- entries, rollups and closed months are untouched.
ALTER TABLE towns ADD COLUMN card_name TEXT NOT NULL DEFAULT '{}';
ALTER TABLE towns ADD COLUMN color TEXT NOT NULL DEFAULT '';
