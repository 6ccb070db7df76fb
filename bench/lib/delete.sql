-- DELETE of a random row, put back by an INSERT in the same transaction so the table never
-- drains; both statements are audited (4 statements per transaction, 2 on the table).
-- Each client has its own keys (client_id + clients * k, clients set with -D), so two
-- clients never delete the same row and the INSERT never meets a duplicate key.
\set k random(0, 100000 / :clients - 1)
\set aid 1 + :client_id + :clients * :k
BEGIN;
DELETE FROM accounts_@T@ WHERE aid = :aid;
INSERT INTO accounts_@T@ (aid, bid, abalance, filler) VALUES (:aid, 1, 0, '');
END;
