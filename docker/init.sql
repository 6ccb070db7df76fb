-- Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d),
-- in the database "app": the table of sqlalchemy-audit's README.
CREATE TABLE IF NOT EXISTS reservation (
    id            serial PRIMARY KEY,
    name          text,
    date          date,
    time          time,
    party         int,
    last_modified timestamptz DEFAULT now()
);
