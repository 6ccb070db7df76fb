-- One copy of the bench tables; run.sh applies it three times with @T@ replaced by
--   audited  listed in pgrev's audit.tables (pgrev writes <table>_rev)
--   plain    not audited: the twin that gives pgrev's CPU without auditing
--   trig     audited by the PL/pgSQL row trigger of trigger.sql (through pgbouncer)
-- All three start with the same rows. pgbench -i -s 1 has made pgbench_accounts before.
CREATE TABLE accounts_@T@ (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL,
                           filler char(84));
INSERT INTO accounts_@T@ SELECT aid, bid, abalance, filler FROM pgbench_accounts;
-- INSERT workload: a serial key and column defaults the client never sends.
CREATE TABLE events_@T@ (id bigserial PRIMARY KEY, account int NOT NULL, amount int NOT NULL,
                         kind text NOT NULL DEFAULT 'deposit',
                         created_at timestamptz NOT NULL DEFAULT now());
-- ORM workload: an application table as Django, SQLAlchemy or Rails would map it.
CREATE TABLE orders_@T@ (id bigserial PRIMARY KEY, customer_id int NOT NULL,
                         status varchar(20) NOT NULL, total numeric(12, 2) NOT NULL,
                         created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO orders_@T@ (customer_id, status, total, created_at, updated_at)
SELECT 1 + i % 10000, 'new', (i % 100000) / 100.0, now(), now()
FROM generate_series(1, 100000) AS i;
VACUUM ANALYZE accounts_@T@, events_@T@, orders_@T@;
