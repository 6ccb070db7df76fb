// pgjdbc (Debian libpostgresql-jdbc-java) through pgrev; run by pgrev_test_stack
// (test_stack.cpp), which sets PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and
// PGREV_DIRECT_PORT (and with --tls PGSSLMODE, PGSSLROOTCERT: see sslProperties). pgjdbc speaks the extended protocol itself and pipelines: a batch is
// every Parse/Bind/Execute sent before one Sync.
//
// The scenario runs in several connection modes: prepareThreshold=1 (PreparedStatements
// become named server-side statements), prepareThreshold=-1 (forced server prepare and
// binary transfer), reWriteBatchedInserts=true, autosave=always and preferQueryMode=simple.
// In each mode it runs directly and through pgrev on a freshly emptied table; update
// counts, batch results, generated keys, result sets (with their column types and tables)
// and SQLStates must be the same both ways, and through pgrev every committed change must
// leave its revision rows (checked with SQL on a direct connection).
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class PgjdbcTest {
    private static final String INSERT =
        "INSERT INTO reservation (name, date, time, party) VALUES (?, ?::date, ?::time, ?)";
    private static final String IMAGE = "(name, date, time, party, last_modified)::text";
    private static final String[] MODES = {
        "prepareThreshold=1",
        "prepareThreshold=-1",
        "reWriteBatchedInserts=true&prepareThreshold=1",
        // A SAVEPOINT pipelined before every statement in a transaction, and ROLLBACK TO
        // SAVEPOINT after an error.
        "autosave=always&prepareThreshold=1",
        "preferQueryMode=simple",
    };

    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) { super(message); }
    }

    static void check(boolean condition, String message) {
        if (!condition) throw new Failure(message);
    }

    static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new Failure(name + " is not set: run this test through pgrev_test_stack");
        }
        return value;
    }

    static String url(String port, String mode) {
        return "jdbc:postgresql://" + env("PGHOST") + ":" + port + "/" + env("PGDATABASE") + "?"
            + mode + "&ApplicationName=pgrev-driver-pgjdbc" + sslProperties();
    }

    // pgjdbc does not read libpq's PGSSLMODE and PGSSLROOTCERT (pgrev_test_stack --tls sets
    // them): they go into the URL, so both the direct and the pgrev connections use them.
    static String sslProperties() {
        String mode = System.getenv("PGSSLMODE");
        if (mode == null || mode.isEmpty()) return "";
        return "&sslmode=" + mode + "&sslrootcert=" + env("PGSSLROOTCERT");
    }

    // Once: under --tls (PGREV_TLS=1) both legs are TLS, in the plain run both are clear.
    // pgjdbc does not tell whether its own connection is TLS, but under --tls pgrev refuses
    // clear clients (tls.client.sslmode = require), so connecting is the proof; the URL asks
    // for it. The upstream leg is what the server sees.
    static void checkLegs() throws SQLException {
        boolean want = env("PGREV_TLS").equals("1");
        check(url(env("PGPORT"), "").contains("sslmode=verify-full") == want,
            "the URL to pgrev asks for TLS: " + want);
        try (Connection conn = DriverManager.getConnection(
                 url(env("PGPORT"), "prepareThreshold=5"), env("PGUSER"), env("PGPASSWORD"));
             Statement st = conn.createStatement();
             ResultSet rs =
                 st.executeQuery("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            check(rs.next() && rs.getBoolean(1) == want,
                "pgjdbc: pgrev's connection to PostgreSQL is TLS (pg_stat_ssl): expected " + want);
        }
        System.out.println("ok: pgjdbc: both legs " + (want ? "TLS" : "clear"));
    }

    // --- the admin side: direct, superuser, autocommit ------------------------------------

    static Connection admin;

    static List<List<String>> adminRows(String sql, Object... args) throws SQLException {
        try (PreparedStatement st = admin.prepareStatement(sql)) {
            for (int i = 0; i < args.length; ++i)
                st.setObject(i + 1, args[i]);
            try (ResultSet rs = st.executeQuery()) {
                return rows(rs);
            }
        }
    }

    static void reset() throws SQLException {
        try (Statement st = admin.createStatement()) {
            st.execute("TRUNCATE reservation, reservation_rev RESTART IDENTITY");
        }
    }

    static long revCount() throws SQLException {
        return Long.parseLong(adminRows("SELECT count(*) FROM reservation_rev").get(0).get(0));
    }

    static void verifyHistory() throws SQLException {
        List<List<String>> bad =
            adminRows("WITH latest AS (SELECT DISTINCT ON (id) * FROM reservation_rev "
                + "ORDER BY id, rev_created DESC) "
                + "SELECT r.id FROM reservation r LEFT JOIN latest l USING (id) "
                + "WHERE l.id IS NULL OR l.rev_isdelete OR (l.name, l.date, l.time, l.party, "
                + "l.last_modified) IS DISTINCT FROM "
                + "(r.name, r.date, r.time, r.party, r.last_modified) "
                + "UNION ALL SELECT l.id FROM latest l LEFT JOIN reservation r USING (id) "
                + "WHERE NOT l.rev_isdelete AND r.id IS NULL");
        check(bad.isEmpty(), "history does not match the table for ids " + bad);
    }

    // The revision rows written since the last call; kinds has one letter per expected row,
    // 'w' (INSERT/UPDATE: the row as stored) or 'd' (DELETE: only the key).
    static final class RevWatcher {
        private final Set<String> seen = new HashSet<>();

        void check(String label, String kinds) throws SQLException {
            List<List<String>> fresh = new ArrayList<>();
            for (List<String> r : adminRows("SELECT rev_id::text, rev_created, rev_isdelete, id, "
                     + IMAGE + " FROM reservation_rev ORDER BY rev_created, rev_id")) {
                if (seen.add(r.get(0))) fresh.add(r);
            }
            PgjdbcTest.check(fresh.size() == kinds.length(),
                label + ": expected " + kinds.length() + " revision row(s), found " + fresh.size()
                    + ": " + fresh);
            Map<String, Integer> lastOfKey = new HashMap<>();
            for (int i = 0; i < fresh.size(); ++i)
                lastOfKey.put(fresh.get(i).get(3), i);
            for (int i = 0; i < fresh.size(); ++i) {
                List<String> rev = fresh.get(i);
                PgjdbcTest.check(
                    Double.parseDouble(rev.get(1)) > 1.6e9, label + ": rev_created " + rev.get(1));
                if (kinds.charAt(i) == 'd') {
                    PgjdbcTest.check(rev.get(2).equals("t") && rev.get(4).equals("(,,,,)"),
                        label + ": a DELETE revision holds the key and NULL elsewhere: " + rev);
                } else {
                    PgjdbcTest.check(
                        rev.get(2).equals("f"), label + ": rev_isdelete on a write: " + rev);
                    if (lastOfKey.get(rev.get(3)) == i) {
                        List<List<String>> stored = adminRows(
                            "SELECT " + IMAGE + " FROM reservation WHERE id = ?::int", rev.get(3));
                        PgjdbcTest.check(
                            stored.size() == 1 && stored.get(0).get(0).equals(rev.get(4)),
                            label + ": revision differs from the row as stored:\n  revision "
                                + rev.get(4) + "\n  stored   " + stored);
                    }
                }
            }
        }
    }

    // --- observations ---------------------------------------------------------------------

    // Rows as text ("getString"), with timestamps of now() replaced: they differ by nature.
    static List<List<String>> rows(ResultSet rs) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (int i = 1; i <= n; ++i) {
                String v = rs.getString(i);
                row.add(v == null
                        ? null
                        : v.replaceAll("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)?\\+00",
                            "<timestamptz>"));
            }
            out.add(row);
        }
        return out;
    }

    static String describe(ResultSet rs) throws SQLException { return describe(rs, true); }

    // The type name ("serial" for reservation.id) and the table name come from the column's
    // origin in the RowDescription; README ("Good to know") says pgrev leaves it out for
    // UPDATE ... FROM / DELETE ... USING with RETURNING, so those compare the JDBC type only.
    static String describe(ResultSet rs, boolean origins) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        List<String> columns = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); ++i) {
            columns.add(md.getColumnLabel(i) + ":"
                + (origins ? md.getColumnTypeName(i) + "@" + md.getTableName(i)
                           : String.valueOf(md.getColumnType(i))));
        }
        return columns + " " + rows(rs);
    }

    static final class Run {
        final String target;
        final List<String> observations = new ArrayList<>();
        final RevWatcher watcher;

        Run(String target) {
            this.target = target;
            this.watcher = target.equals("pgrev") ? new RevWatcher() : null;
        }

        void see(String label, Object value) {
            observations.add(label + ": " + value);
            if (System.getenv("PGREV_TEST_VERBOSE") != null) {
                System.out.println("  " + target + ": " + label + ": " + value);
            }
        }

        void revs(String label, String kinds) throws SQLException {
            if (watcher != null) watcher.check(label, kinds);
        }
    }

    static void bind(PreparedStatement st, String name, String date, String time, Integer party)
        throws SQLException {
        st.setString(1, name);
        st.setString(2, date);
        st.setString(3, time);
        if (party == null) {
            st.setNull(4, Types.INTEGER);
        } else {
            st.setInt(4, party);
        }
    }

    static void scenario(Run run, Connection conn, String mode) throws SQLException {
        conn.setAutoCommit(true);
        boolean rewritesInserts = mode.contains("reWriteBatchedInserts");

        // INSERT with RETURN_GENERATED_KEYS (pgjdbc appends RETURNING *), executed repeatedly.
        try (PreparedStatement ins =
                 conn.prepareStatement(INSERT, Statement.RETURN_GENERATED_KEYS)) {
            String[] names = {"Steve", "Phil", "Ann", "Bob"};
            for (int i = 0; i < names.length; ++i) {
                bind(ins, names[i], "2015-04-1" + (5 + i), "19:0" + i, 3 + i);
                int n = ins.executeUpdate();
                try (ResultSet keys = ins.getGeneratedKeys()) {
                    run.see("insert " + names[i], n + " " + describe(keys));
                }
                run.revs("insert " + names[i], "w");
            }
        }
        // Named key columns (RETURNING "id", "last_modified").
        try (PreparedStatement ins =
                 conn.prepareStatement(INSERT, new String[] {"id", "last_modified"})) {
            for (String name : new String[] {"Keyed 1", "Keyed 2"}) {
                bind(ins, name, null, null, 1);
                int n = ins.executeUpdate();
                try (ResultSet keys = ins.getGeneratedKeys()) {
                    run.see("insert keyed " + name, n + " " + describe(keys));
                }
                run.revs("insert keyed " + name, "w");
            }
        }

        // The same UPDATE and DELETE several times: server-prepared after prepareThreshold.
        try (PreparedStatement upd = conn.prepareStatement(
                 "UPDATE reservation SET party = party + ? WHERE party >= ?")) {
            for (int step = 1; step <= 3; ++step) {
                upd.setInt(1, step);
                upd.setInt(2, 5);
                run.see("update +" + step, upd.executeUpdate());
            }
        }
        run.revs("updates",
            "ww"
                + "ww"
                + "ww");
        try (
            PreparedStatement del = conn.prepareStatement("DELETE FROM reservation WHERE id = ?")) {
            for (int id : new int[] {4, 99, 5}) {
                del.setInt(1, id);
                run.see("delete " + id, del.executeUpdate());
            }
        }
        run.revs("deletes", "dd");
        run.see("server-prepared statements",
            adminRowsOf(
                conn, "SELECT count(*) > 0 FROM pg_prepared_statements WHERE name LIKE 'S\\_%'"));

        // executeBatch: UPDATE counts per statement, one batch pipelined before one Sync.
        try (PreparedStatement batch =
                 conn.prepareStatement("UPDATE reservation SET party = ? WHERE name = ?")) {
            String[] names = {"Steve", "Phil", "nobody", "Ann"};
            for (int i = 0; i < names.length; ++i) {
                batch.setInt(1, 10 + i);
                batch.setString(2, names[i]);
                batch.addBatch();
            }
            run.see("batch update", Arrays.toString(batch.executeBatch()));
        }
        run.revs("batch update", "www");

        // Batch INSERT with generated keys, and a batch INSERT without.
        try (PreparedStatement batch =
                 conn.prepareStatement(INSERT, Statement.RETURN_GENERATED_KEYS)) {
            for (int i = 1; i <= 3; ++i) {
                bind(batch, "Batch " + i, null, "12:0" + i, i);
                batch.addBatch();
            }
            int[] counts = batch.executeBatch();
            try (ResultSet keys = batch.getGeneratedKeys()) {
                run.see("batch insert with keys", Arrays.toString(counts) + " " + describe(keys));
            }
        }
        run.revs("batch insert with keys", "www");
        try (PreparedStatement batch = conn.prepareStatement(INSERT)) {
            for (int i = 1; i <= 5; ++i) {
                bind(batch, "Bulk " + i, "2020-01-0" + i, null, i * 2);
                batch.addBatch();
            }
            int[] counts = batch.executeBatch();
            // With reWriteBatchedInserts pgjdbc sends one multi-row INSERT and reports
            // SUCCESS_NO_INFO (-2) per row, directly as through pgrev.
            run.see("batch insert", Arrays.toString(counts));
            check(rewritesInserts || Arrays.equals(counts, new int[] {1, 1, 1, 1, 1}),
                "batch insert counts " + Arrays.toString(counts));
        }
        run.revs("batch insert", "wwwww");
        try (PreparedStatement batch =
                 conn.prepareStatement("DELETE FROM reservation WHERE name LIKE ?")) {
            batch.setString(1, "Bulk 1%");
            batch.addBatch();
            batch.setString(1, "Bulk 2%");
            batch.addBatch();
            batch.setString(1, "none%");
            batch.addBatch();
            run.see("batch delete", Arrays.toString(batch.executeBatch()));
        }
        run.revs("batch delete", "dd");

        // A Statement batch of SQL strings, and several statements in one execute().
        try (Statement st = conn.createStatement()) {
            st.addBatch("UPDATE reservation SET party = party + 1 WHERE name LIKE 'Bulk%'");
            st.addBatch("INSERT INTO reservation (name) VALUES ('string batch')");
            st.addBatch("DELETE FROM reservation WHERE name = 'string batch'");
            run.see("statement batch", Arrays.toString(st.executeBatch()));
            run.revs("statement batch",
                "www"
                    + "w"
                    + "d");

            boolean isResult = st.execute("UPDATE reservation SET time = '08:00' WHERE id = 1; "
                + "DELETE FROM reservation WHERE name = 'Bulk 3'; "
                + "SELECT id, party FROM reservation WHERE id = 1");
            List<String> results = new ArrayList<>();
            while (true) {
                if (isResult) {
                    try (ResultSet rs = st.getResultSet()) {
                        results.add(describe(rs));
                    }
                } else if (st.getUpdateCount() == -1) {
                    break;
                } else {
                    results.add("count " + st.getUpdateCount());
                }
                isResult = st.getMoreResults();
            }
            run.see("three statements", results);
            run.revs("three statements", "wd");
        }

        // UPDATE ... RETURNING through executeQuery.
        try (PreparedStatement st = conn.prepareStatement(
                 "UPDATE reservation AS r SET party = r.party * 2 WHERE r.id = ? "
                 + "RETURNING r.id, r.party, r.name || '!' AS shout, r.date")) {
            st.setInt(1, 2);
            try (ResultSet rs = st.executeQuery()) {
                run.see("update returning", describe(rs));
            }
        }
        run.revs("update returning", "w");
        try (PreparedStatement st = conn.prepareStatement(
                 "UPDATE reservation AS r SET party = o.x FROM (VALUES (?, 7)) AS o(id, x) "
                 + "WHERE r.id = o.id RETURNING r.id, r.name, o.x")) {
            st.setInt(1, 3);
            try (ResultSet rs = st.executeQuery()) {
                run.see("update from returning", describe(rs, false));
            }
        }
        run.revs("update from returning", "w");

        // An updatable ResultSet: pgjdbc writes the UPDATE/INSERT/DELETE itself (by primary
        // key) and checks that each changed exactly one row.
        try (Statement st =
                 conn.createStatement(ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_UPDATABLE);
             ResultSet rs = st.executeQuery(
                 "SELECT id, name, party FROM reservation WHERE id IN (1, 2) ORDER BY id")) {
            check(rs.next(), "updatable result set: no first row");
            rs.updateInt("party", 77);
            rs.updateRow();
            rs.moveToInsertRow();
            rs.updateString("name", "Inserted by ResultSet");
            rs.updateInt("party", 3);
            rs.insertRow();
            rs.moveToCurrentRow();
            check(rs.next(), "updatable result set: no second row");
            rs.deleteRow();
            run.see("updatable result set", "done");
        } catch (SQLException e) {
            run.see("updatable result set", e.getSQLState() + " " + e.getMessage());
        }
        run.revs("updatable result set", "wwd");

        // Transactions: rolled back; committed with a savepoint rolled back in between.
        conn.setAutoCommit(false);
        try (Statement st = conn.createStatement()) {
            run.see("tx update all", st.executeUpdate("UPDATE reservation SET party = 0"));
            try (PreparedStatement ins = conn.prepareStatement(INSERT)) {
                bind(ins, "Never", null, null, 1);
                run.see("tx insert", ins.executeUpdate());
            }
            conn.rollback();
            run.revs("rolled back", "");

            run.see(
                "sp update", st.executeUpdate("UPDATE reservation SET party = 42 WHERE id = 1"));
            Savepoint sp = conn.setSavepoint("before_delete");
            run.see("sp delete", st.executeUpdate("DELETE FROM reservation WHERE id = 1"));
            conn.rollback(sp);
            run.revs("before commit", "");
            conn.commit();
            run.revs("committed", "w");
        }

        // A batch failing half-way inside a transaction: nothing of it is kept.
        try (PreparedStatement batch =
                 conn.prepareStatement("UPDATE reservation SET party = party / ? WHERE id = ?")) {
            for (int[] p : new int[][] {{1, 1}, {0, 2}, {1, 3}}) {
                batch.setInt(1, p[0]);
                batch.setInt(2, p[1]);
                batch.addBatch();
            }
            try {
                batch.executeBatch();
                run.see("failing batch", "no error");
            } catch (BatchUpdateException e) {
                run.see(
                    "failing batch", e.getSQLState() + " " + Arrays.toString(e.getUpdateCounts()));
            }
            conn.rollback();
        }
        run.revs("failing batch", "");
        conn.setAutoCommit(true);

        // Errors keep their SQLState.
        try (Statement st = conn.createStatement()) {
            for (String sql :
                new String[] {"UPDATE reservation SET party = nosuchcolumn WHERE id = 1",
                    "INSERT INTO reservation (id, name) VALUES (1, 'duplicate')",
                    "DELETE FROM reservation WHERE id = 'x'"}) {
                try {
                    st.executeUpdate(sql);
                    run.see("error", "no error for " + sql);
                } catch (SQLException e) {
                    run.see("error", e.getSQLState() + " " + e.getMessage().split("\n")[0]);
                }
            }
        }
        run.revs("errors", "");

        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery(
                 "SELECT id, name, date, time, party FROM reservation ORDER BY id")) {
            run.see("final table", describe(rs));
        }
    }

    static List<List<String>> adminRowsOf(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rows(rs);
        }
    }

    static int problems = 0;

    static void runMode(String mode) throws SQLException {
        System.out.println("--- mode " + mode + " ---");
        Map<String, Run> runs = new HashMap<>();
        for (String target : new String[] {"direct", "pgrev"}) {
            reset();
            Run run = new Run(target);
            String port = target.equals("pgrev") ? env("PGPORT") : env("PGREV_DIRECT_PORT");
            try (Connection conn = DriverManager.getConnection(
                     url(port, mode), env("PGUSER"), env("PGPASSWORD"))) {
                scenario(run, conn, mode);
            }
            runs.put(target, run);
        }
        List<String> a = runs.get("direct").observations;
        List<String> b = runs.get("pgrev").observations;
        StringBuilder differences = new StringBuilder();
        int count = 0;
        for (int i = 0; i < Math.max(a.size(), b.size()); ++i) {
            String da = i < a.size() ? a.get(i) : null;
            String db = i < b.size() ? b.get(i) : null;
            if (da == null ? db != null : !da.equals(db)) {
                ++count;
                differences.append("\nobservation ")
                    .append(i)
                    .append(":\n  direct ")
                    .append(da)
                    .append("\n  pgrev  ")
                    .append(db);
            }
        }
        if (count > 0) {
            ++problems;
            System.err.println("PROBLEM (" + mode
                + "): the driver saw something else through pgrev "
                + "than directly (" + count + " of " + a.size() + " observations):" + differences);
        } else {
            System.out.println(
                "ok: " + a.size() + " observations identical directly and through pgrev");
        }
        verifyHistory();
        System.out.println("ok: the latest revision of every row equals the row");
        long revs = revCount();
        check(
            revs == 40, "revision rows written by the whole scenario: expected 40, found " + revs);
    }

    // Batches large enough that pgjdbc cannot buffer every response: it interleaves Syncs
    // and reads while it writes, and pgrev must keep both directions moving.
    static void largeBatches() throws SQLException {
        final int n = 5000;
        reset();
        try (Connection conn = DriverManager.getConnection(
                 url(env("PGPORT"), "prepareThreshold=1"), env("PGUSER"), env("PGPASSWORD"))) {
            int[] counts;
            Set<Integer> ids = new HashSet<>();
            try (PreparedStatement batch = conn.prepareStatement(INSERT, new String[] {"id"})) {
                for (int i = 0; i < n; ++i) {
                    bind(batch, "Large " + i, null, null, i);
                    batch.addBatch();
                }
                counts = batch.executeBatch();
                try (ResultSet keys = batch.getGeneratedKeys()) {
                    while (keys.next())
                        ids.add(keys.getInt(1));
                }
            }
            check(counts.length == n && Arrays.stream(counts).allMatch(c -> c == 1),
                "large batch insert: counts " + Arrays.stream(counts).boxed().distinct().toList());
            check(ids.size() == n, "large batch insert: " + ids.size() + " generated keys");
            try (PreparedStatement batch = conn.prepareStatement(
                     "UPDATE reservation SET party = party + 1 WHERE id = ?")) {
                for (int id : ids) {
                    batch.setInt(1, id);
                    batch.addBatch();
                }
                counts = batch.executeBatch();
            }
            check(counts.length == n && Arrays.stream(counts).allMatch(c -> c == 1),
                "large batch update: counts " + Arrays.stream(counts).boxed().distinct().toList());
        }
        check(revCount() == 2L * n,
            "large batches: expected " + 2 * n + " revision rows, found " + revCount());
        verifyHistory();
        System.out.println("ok: batches of " + n + " inserts (with keys) and updates");
    }

    public static void main(String[] args) throws Exception {
        try {
            admin = DriverManager.getConnection(
                url(env("PGREV_DIRECT_PORT"), "user=" + env("PGREV_SUPERUSER")));
            checkLegs();
            for (String mode : MODES)
                runMode(mode);
            largeBatches();
            admin.close();
        } catch (Failure e) {
            System.err.println("FAIL PgjdbcTest: " + e.getMessage());
            System.exit(1);
        }
        if (problems > 0) {
            System.err.println(
                "FAIL PgjdbcTest: " + problems + " problem(s), each printed above as PROBLEM");
            System.exit(1);
        }
        System.out.println("PASS PgjdbcTest");
    }
}
