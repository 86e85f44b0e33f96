-- A row's content hash is the 64-bit DuckDB hash() itself, no longer its 16 hex digits:
-- formatting 1M hashes as text cost ~0.2 s of a ~4-5 s ingest, and the text holds no more.
-- The hashes stored as text convert exactly ('0x' || digits).
ALTER TABLE annotations ALTER content_hash TYPE UBIGINT USING ('0x' || content_hash)::UBIGINT;

ALTER TABLE production_samples
ALTER content_hash TYPE UBIGINT USING ('0x' || content_hash)::UBIGINT;
