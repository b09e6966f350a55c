-- Conflicts in bulk (issue 17): the open (undecided) conflicts, by merchant (every town's:
-- few rows, as each merchant has at most CITYCARD_MAX_OPEN_CONFLICTS). The office's
-- groups, a bulk decision's filter, the month's count of open conflicts and the cap on one
-- merchant's open conflicts read only these rows, however many redemptions the town has.
CREATE INDEX redemptions_open_conflicts ON redemptions (town, merchant_id) WHERE conflict_reason IS NOT NULL AND decision IS NULL;
