-- Macros that describe a typed column value the way json_type/json_extract_string describe
-- a JSON field, so typed (Parquet) rows go through the same row checks as JSON records.
CREATE OR REPLACE TEMP MACRO jf_value_type(x) AS
CASE
    WHEN x IS NULL THEN 'NULL'
    WHEN typeof(x) = 'VARCHAR' THEN 'VARCHAR'
    WHEN typeof(x) LIKE 'STRUCT%' OR typeof(x) LIKE 'MAP%' OR typeof(x) = 'JSON' THEN 'OBJECT'
    WHEN typeof(x) LIKE '%]' THEN 'ARRAY'
    WHEN typeof(x) IN ('FLOAT', 'DOUBLE') OR typeof(x) LIKE 'DECIMAL%' THEN 'DOUBLE'
    ELSE typeof(x)
END;

CREATE OR REPLACE TEMP MACRO jf_value_text(x) AS
CASE
    WHEN typeof(x) LIKE 'STRUCT%' OR typeof(x) LIKE 'MAP%' OR typeof(x) LIKE '%]'
        THEN to_json(x)::varchar
    ELSE x::varchar
END;
