-- Remove one week's production samples before the week is loaded again.
DELETE FROM production_samples
WHERE week = $week;
