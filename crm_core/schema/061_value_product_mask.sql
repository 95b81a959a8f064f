-- The set of products each customer bought, as a bit mask (bit N = product id N,
-- for ids 1..63; NULL when the customer bought a product with a larger id).
-- Customers sharing one mask are grouped first, so product pairs and
-- "similar customers" are computed over a few hundred distinct baskets
-- instead of a self-join of ~1M customer-product rows.
ALTER TABLE value_summary ADD COLUMN product_mask UBIGINT;
-- forget the fingerprint: the next read rebuilds the summary with the masks
DELETE FROM value_summary_state;
