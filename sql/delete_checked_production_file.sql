-- Drop the checked rows of one file, to read it again another way.
DELETE FROM checked_production
WHERE source_uri = $uri;
