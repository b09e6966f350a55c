-- A town's own face (issue 19), the twin of SQLite's 0021_town_face.sql: the name of its card
-- per language and its colour. card_name is a JSON {lang: text} of the names set ('{}': every
-- language reads the town's name + " Card"); color is '#rrggbb' ('': the default colour).
-- Ledger entries, rollups and closed months are untouched.
ALTER TABLE towns ADD COLUMN card_name TEXT COLLATE "C" NOT NULL DEFAULT '{}';
ALTER TABLE towns ADD COLUMN color TEXT COLLATE "C" NOT NULL DEFAULT '';
