-- What an ORM sends for one request (5 statements per transaction, 3 on the table): quoted
-- identifiers, table-qualified columns, INSERT ... RETURNING "id", UPDATE ... WHERE "id" =,
-- and a trailing sqlcommenter comment (Rails query logs in sqlcommenter format, OpenTelemetry
-- sqlcommenter for Django and SQLAlchemy). run.sh replaces @C1@..@C3@ by the comment: in
-- -M simple pgbench substitutes :variables everywhere in the text, comments included, so the
-- trace id differs in every transaction and the span id in every statement; in -M extended and -M prepared pgbench turns each :variable
-- into $n (inside a comment too, where the server would not see it), so there the comment is
-- a constant: the text is fixed at Parse anyway.
\set oid random(1, 100000)
\set cid random(1, 10000)
\set total random(100, 99999) / 100.0
\set trace1 random(1000000000000000, 9999999999999999)
\set trace2 random(1000000000000000, 9999999999999999)
\set span1 random(1000000000000000, 9999999999999999)
\set span2 random(1000000000000000, 9999999999999999)
\set span3 random(1000000000000000, 9999999999999999)
BEGIN;
SELECT "orders_@T@"."id", "orders_@T@"."customer_id", "orders_@T@"."status", "orders_@T@"."total", "orders_@T@"."created_at", "orders_@T@"."updated_at" FROM "orders_@T@" WHERE "orders_@T@"."id" = :oid LIMIT 1 @C1@;
UPDATE "orders_@T@" SET "status" = 'paid', "total" = :total, "updated_at" = now() WHERE "orders_@T@"."id" = :oid @C2@;
INSERT INTO "orders_@T@" ("customer_id", "status", "total", "created_at", "updated_at") VALUES (:cid, 'new', :total, now(), now()) RETURNING "orders_@T@"."id" @C3@;
COMMIT;
