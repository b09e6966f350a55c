-- The offline pack lists a merchant's uses that can still matter (issue 17): for each
-- product, the live limited uses made within its cards' validity before now, read by product
-- and time from this index instead of every live limited use the merchant ever had.
DROP INDEX redemptions_merchant_limit;
CREATE INDEX redemptions_merchant_limit_product ON redemptions (merchant_id, product_code, created_at) WHERE limit_key IS NOT NULL AND voided_at IS NULL;
