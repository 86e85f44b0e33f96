-- Remove one week's quarantined rows of one source before the week is loaded again.
DELETE FROM quarantine
WHERE week = $week AND source = $source;
