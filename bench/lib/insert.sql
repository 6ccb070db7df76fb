-- INSERT with a serial key and column defaults (1 statement per transaction).
\set aid random(1, 100000)
\set amount random(1, 5000)
INSERT INTO events_@T@ (account, amount) VALUES (:aid, :amount);
