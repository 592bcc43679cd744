DROP TABLE import_keys;
DROP TABLE import_failures;
DROP TABLE imports;
