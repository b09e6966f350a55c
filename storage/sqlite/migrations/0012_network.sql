-- Papers' batches (migration 0005) in a network of towns: a batch belongs to the town whose
-- office issued it, as its cards do. A batch made before is its cards' town's.

ALTER TABLE batches ADD COLUMN town TEXT NOT NULL DEFAULT '';
UPDATE batches SET town = coalesce((SELECT c.town FROM cards c WHERE c.batch_id = batches.id LIMIT 1), (SELECT min(code) FROM towns), '');
CREATE INDEX batches_town ON batches (town, seq);
