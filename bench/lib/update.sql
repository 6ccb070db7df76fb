-- UPDATE one random row of 100,000 (1 statement per transaction).
\set aid random(1, 100000)
\set delta random(-5000, 5000)
UPDATE accounts_@T@ SET abalance = abalance + :delta WHERE aid = :aid;
