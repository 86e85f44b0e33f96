-- Remove one week's annotations before the week is loaded again.
DELETE FROM annotations
WHERE week = $week;
