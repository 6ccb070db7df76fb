// node-postgres (npm `pg`) through pgrev; run by pgrev_test_stack (test_stack.cpp), which
// sets PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, with --tls PGSSLMODE (read by pg
// itself) and PGREV_DIRECT_PORT. node-postgres speaks the protocol in JavaScript: a query without
// values is a simple Query, one with values an unnamed Parse/Bind/Describe/Execute/Sync,
// and {name, text, values} a named statement parsed once per connection.
//
// The scenario runs directly and through pgrev on a freshly emptied table; result.rows,
// rowCount, command and errors must be the same both ways, and through pgrev every
// committed change must leave its revision rows (checked with SQL on a direct connection).
'use strict';

const {Client, Pool, types} = require('pg');

const directPort = Number(process.env.PGREV_DIRECT_PORT);
const superuser = process.env.PGREV_SUPERUSER;
if (!directPort || !superuser || !process.env.PGPORT) {
    console.error('run this test through pgrev_test_stack (ctest -R driver_node)');
    process.exit(2);
}

class Failure extends Error {}

function check(condition, message) {
    if (!condition) throw new Failure(message);
}

// Problems that need not stop the test: reported (and failing it) at the end, so one
// difference does not hide the checks after it.
const deferred = [];

function failLater(message) {
    console.error(`PROBLEM: ${message}`);
    deferred.push(message);
}

function same(actual, expected, what) {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    check(a === e, `${what}:\n  expected ${e}\n  actual   ${a}`);
}

// timestamptz values (now()) differ between runs by nature; everything else must not.
const stableTypes = {
    getTypeParser(oid, format) {
        if (oid === 1184) return () => '<timestamptz>';
        return types.getTypeParser(oid, format);
    },
};

function clientFor(target, extra = {}) {
    const config = {application_name: 'pgrev-driver-node', types: stableTypes, ...extra};
    if (target === 'direct') config.port = directPort;
    return new Client(config);
}

// --- the admin side: direct, superuser ---------------------------------------------------

let admin;

async function adminQuery(text, values) { return (await admin.query(text, values)).rows; }

async function reset() {
    await adminQuery('TRUNCATE reservation, reservation_rev RESTART IDENTITY');
}

const IMAGE = '(name, date, time, party, last_modified)::text';

// The revision rows written since the last call; `kinds` has one letter per expected row,
// 'w' (INSERT/UPDATE: the row as stored) or 'd' (DELETE: only the key).
class RevWatcher {
    constructor() { this.seen = new Set(); }

    async fresh() {
        const rows = await adminQuery(
            `SELECT rev_id::text AS rev_id, rev_created, rev_isdelete, id, ${IMAGE} AS image ` +
            'FROM reservation_rev ORDER BY rev_created, rev_id');
        const fresh = rows.filter((r) => !this.seen.has(r.rev_id));
        for (const r of fresh)
            this.seen.add(r.rev_id);
        return fresh;
    }

    async check(label, kinds) {
        const revs = await this.fresh();
        check(
            revs.length === kinds.length,
            `${label}: expected ${kinds.length} revision row(s), found ${revs.length}: ` +
                JSON.stringify(revs));
        const lastOfKey = new Map(revs.map((r, i) => [r.id, i]));
        for (let i = 0; i < revs.length; ++i) {
            const rev = revs[i];
            check(
                typeof rev.rev_created === 'number' && rev.rev_created > 1.6e9,
                `${label}: rev_created ${rev.rev_created}`);
            if (kinds[i] === 'd') {
                check(
                    rev.rev_isdelete === true && rev.image === '(,,,,)',
                    `${label}: a DELETE revision holds the key and NULL elsewhere: ${
                        JSON.stringify(rev)}`);
            } else {
                check(
                    rev.rev_isdelete === false,
                    `${label}: rev_isdelete on a write: ${JSON.stringify(rev)}`);
                if (lastOfKey.get(rev.id) === i) {
                    const stored = await adminQuery(
                        `SELECT ${IMAGE} AS image FROM reservation WHERE id = $1`, [rev.id]);
                    check(
                        stored.length === 1 && stored[0].image === rev.image,
                        `${label}: revision differs from the row as stored:\n  revision ${
                            rev.image}\n` +
                            `  stored   ${stored.length ? stored[0].image : '(no row)'}`);
                }
            }
        }
    }
}

async function verifyHistory() {
    const bad = await adminQuery(`
    WITH latest AS (SELECT DISTINCT ON (id) * FROM reservation_rev ORDER BY id, rev_created DESC)
    SELECT r.id FROM reservation r LEFT JOIN latest l USING (id)
     WHERE l.id IS NULL OR l.rev_isdelete
        OR (l.name, l.date, l.time, l.party, l.last_modified)
           IS DISTINCT FROM (r.name, r.date, r.time, r.party, r.last_modified)
    UNION ALL
    SELECT l.id FROM latest l LEFT JOIN reservation r USING (id)
     WHERE NOT l.rev_isdelete AND r.id IS NULL`);
    check(bad.length === 0, `history does not match the table for ids ${JSON.stringify(bad)}`);
}

// --- one pass of the scenario ---------------------------------------------------------------

class Run {
    constructor(target) {
        this.target = target;
        this.observations = [];
        this.watcher = target === 'pgrev' ? new RevWatcher() : null;
    }

    see(label, values) {
        // now() inside a whole-row value's text differs between runs, as timestamptz does.
        values = JSON.parse(JSON.stringify(values).replace(
            /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00/g, '<timestamptz>'));
        this.observations.push([label, values]);
        if (process.env.PGREV_TEST_VERBOSE)
            console.log(`  ${this.target}: ${label}: ${JSON.stringify(values)}`);
    }

    // `origins`: compare the table and column each value comes from (drivers use them for
    // result-set metadata); README ("Good to know") says pgrev leaves them out for
    // UPDATE ... FROM / DELETE ... USING with RETURNING.
    result(label, r, {origins = true} = {}) {
        this.see(label, {
            command: r.command,
            rowCount: r.rowCount,
            rows: r.rows,
            fields: r.fields.map(
                (f) => origins ? [f.name, f.dataTypeID, f.tableID, f.columnID] :
                                 [f.name, f.dataTypeID, f.dataTypeModifier]),
        });
    }

    error(label, e) { this.see(label, {code: e.code, message: e.message, position: e.position}); }

    async revs(label, kinds) {
        if (this.watcher) await this.watcher.check(label, kinds);
    }
}

const INSERT = 'INSERT INTO reservation (name, date, time, party) VALUES ($1, $2, $3, $4)';

async function scenario(run) {
    const client = clientFor(run.target);
    await client.connect();

    // Parameterised queries (unnamed statements).
    run.result('insert', await client.query(INSERT, ['Steve', '2015-04-15', '19:00', 6]));
    await run.revs('insert', 'w');
    run.result(
        'insert returning',
        await client.query(
            `${INSERT} RETURNING id, name, party, date::text`, ['Phil', '2015-05-01', '18:30', 3]));
    await run.revs('insert returning', 'w');
    run.result(
        'insert awkward',
        await client.query(INSERT, ['O\'Brien \\ "q" Zoë 🎉 $1 $$', null, null, null]));
    await run.revs('insert awkward', 'w');

    // Named prepared statements, each run several times on one connection.
    for (let i = 1; i <= 4; ++i) {
        run.result(`named insert ${i}`, await client.query({
            name: 'insert-guest',
            text: `${INSERT} RETURNING id`,
            values: [`Guest ${i}`, null, null, i],
        }));
        await run.revs(`named insert ${i}`, 'w');
    }
    for (const step of [1, 2, 3]) {
        run.result(`named update +${step}`, await client.query({
            name: 'bump',
            text: 'UPDATE reservation SET party = party + $1 WHERE party >= $2',
            values: [step, 3],
        }));
    }
    await run.revs('named updates', 'w'.repeat(12));
    run.result('named delete', await client.query({
        name: 'drop',
        text: 'DELETE FROM reservation WHERE name LIKE $1 RETURNING id',
        values: ['Guest%'],
    }));
    await run.revs('named delete', 'dddd');
    run.result('named delete again', await client.query({name: 'drop', values: ['Guest%']}));
    await run.revs('named delete again', '');
    // pgrev's own statements (__pgrev_<n>, the rewrite of an unnamed Parse sent again) are
    // left out.
    run.result(
        'prepared statements',
        await client.query("SELECT name FROM pg_prepared_statements " +
                           "WHERE NOT starts_with(name, '__pgrev_') ORDER BY name"));

    // Array row mode, RETURNING expressions, a whole-row value, an upsert.
    run.result('update returning array mode', await client.query({
        text: 'UPDATE reservation AS r SET party = 10 WHERE r.id = $1 RETURNING r.id, r.party * 2',
        values: [1],
        rowMode: 'array',
    }));
    await run.revs('update returning array mode', 'w');
    // A whole-row value keeps its composite type; its source table is a documented
    // difference (README, "Good to know").
    run.result('update returning a whole row', await client.query({
        text: 'UPDATE reservation AS r SET party = 10 WHERE r.id = $1 RETURNING r.id, r',
        values: [1],
        rowMode: 'array',
    }), {origins: false});
    await run.revs('update returning a whole row', 'w');
    run.result(
        'upsert',
        await client.query(
            'INSERT INTO reservation (id, name, party) VALUES ($1, $2, $3) ON CONFLICT (id) ' +
                'DO UPDATE SET party = excluded.party RETURNING id, party',
            [2, 'Phil', 5]));
    await run.revs('upsert', 'w');

    // RETURNING over other FROM/USING items (pgrev's whole-row form), with a bare *; the
    // columns' origins are a documented difference (see Run.result).
    run.result(
        'update from returning',
        await client.query(
            'UPDATE reservation AS r SET party = o.x FROM (VALUES (1, 7), (2, 8)) AS o(id, x) ' +
                'WHERE r.id = o.id RETURNING r.id, r.name, o.x, r.party - o.x AS zero',
            []),
        {origins: false});
    await run.revs('update from returning', 'ww');
    run.result(
        'delete using returning *',
        await client.query(
            'DELETE FROM reservation AS r USING (VALUES ($1::int)) AS v(id) WHERE r.id = v.id ' +
                'RETURNING *',
            [3]),
        {origins: false});
    await run.revs('delete using returning *', 'd');
    run.result(
        'insert again',
        await client.query(
            'INSERT INTO reservation (id, name) VALUES (3, $1) RETURNING id', ['O\'Brien']));
    await run.revs('insert again', 'w');

    // A simple Query holding several statements: one result per statement.
    const many = await client.query(
        'UPDATE reservation SET party = 1 WHERE id = 1; ' +
        'INSERT INTO reservation (name) VALUES (\'multi\'); ' +
        'DELETE FROM reservation WHERE name = \'multi\'; ' +
        'SELECT count(*)::int AS n FROM reservation');
    many.forEach((r, i) => run.result(`multi statement ${i}`, r));
    await run.revs('multi statement', 'wwd');

    // Empty queries (EmptyQueryResponse instead of CommandComplete), simple and extended.
    run.result('empty simple query', await client.query(''));
    run.result('comment-only query', await client.query('-- nothing to do'));
    run.result('empty named statement', await client.query({name: 'empty', text: ''}));
    run.result('empty named statement again', await client.query({name: 'empty', text: ''}));
    await run.revs('empty queries', '');

    // A transaction rolled back, one committed, one broken by an error.
    await client.query('BEGIN');
    run.result('tx update all', await client.query('UPDATE reservation SET party = 0'));
    run.result('tx insert', await client.query(INSERT, ['Never', null, null, 1]));
    run.result('tx delete', await client.query('DELETE FROM reservation WHERE id = $1', [1]));
    await client.query('ROLLBACK');
    await run.revs('rolled back', '');

    await client.query('BEGIN');
    run.result(
        'tx2 insert', await client.query({name: 'insert-guest', values: ['Kept', null, null, 2]}));
    run.result(
        'tx2 update',
        await client.query('UPDATE reservation SET party = party + 1 WHERE id = $1', [2]));
    await client.query('COMMIT');
    await run.revs('committed', 'ww');

    await client.query('BEGIN');
    await client.query('UPDATE reservation SET party = 50 WHERE id = $1', [1]);
    try {
        await client.query('UPDATE reservation SET party = party / $1 WHERE id = $2', [0, 1]);
        run.see('division by zero', {unexpected: 'no error'});
    } catch (e) {
        run.error('division by zero', e);
    }
    try {
        await client.query('SELECT 1');
        run.see('in failed transaction', {unexpected: 'no error'});
    } catch (e) {
        run.error('in failed transaction', e);
    }
    await client.query('ROLLBACK');
    try {
        await client.query('UPDATE reservation SET party = nosuchcolumn WHERE id = $1', [1]);
        run.see('unknown column', {unexpected: 'no error'});
    } catch (e) {
        run.error('unknown column', e);
    }
    try {
        await client.query('UPDATE reservation SET party = \'x\' WHERE id = 1');
        run.see('bad literal', {unexpected: 'no error'});
    } catch (e) {
        run.error('bad literal', e);
    }
    await run.revs('failed statements', '');

    run.result(
        'final table',
        await client.query(
            'SELECT id, name, date::text, time, party FROM reservation ORDER BY id'));
    await client.end();
}

async function poolUpdates() {
    await reset();
    const pool = new Pool({max: 4});
    await pool.query(
        'INSERT INTO reservation (name, party) ' +
        'SELECT \'Pool \' || i, 0 FROM generate_series(0, 7) AS i');
    await Promise.all([...Array(8).keys()].map(async (i) => {
        for (let step = 0; step < 10; ++step) {
            const r = await pool.query({
                name: 'pool-bump',
                text: 'UPDATE reservation SET party = party + 1 WHERE name = $1',
                values: [`Pool ${i}`]
            });
            check(
                r.command === 'UPDATE' && r.rowCount === 1,
                `pool worker ${i}: ${r.command} ${r.rowCount}`);
        }
    }));
    await pool.end();
    const [{sum, revs}] = await adminQuery(
        'SELECT (SELECT sum(party)::int FROM reservation) AS sum, ' +
        '(SELECT count(*)::int FROM reservation_rev) AS revs');
    same([sum, revs], [80, 8 + 80], 'pool: sum of parties and revision rows');
    await verifyHistory();
    console.log('ok: concurrent updates through a pool, one revision each');
}

// Once: under pgrev_test_stack --tls (PGREV_TLS=1, PGSSLMODE=verify-full, NODE_EXTRA_CA_CERTS)
// the connection to pgrev and pgrev's to PostgreSQL are TLS; in the plain run both are clear.
async function checkLegs() {
    const want = process.env.PGREV_TLS === '1';
    const client = clientFor('pgrev');
    await client.connect();
    try {
        // After the SSLRequest node-postgres replaces its socket with a tls.TLSSocket.
        const clientTls = client.connection.stream.encrypted === true;
        const {rows: [{ssl}]} =
            await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        check(clientTls === want, `node-postgres: TLS to pgrev is ${clientTls}, expected ${want}`);
        check(ssl === want, `node-postgres: pgrev's TLS to PostgreSQL is ${ssl}, expected ${want}`);
        console.log(`ok: node-postgres: both legs ${want ? 'TLS' : 'clear'}`);
    } finally {
        await client.end();
    }
}

async function main() {
    admin = new Client({port: directPort, user: superuser, password: undefined});
    await admin.connect();
    try {
        await checkLegs();
        const runs = {};
        for (const target of ['direct', 'pgrev']) {
            await reset();
            console.log(`--- scenario ${target} ---`);
            runs[target] = new Run(target);
            await scenario(runs[target]);
        }
        const a = runs.direct.observations;
        const b = runs.pgrev.observations;
        const differences = [];
        for (let i = 0; i < Math.max(a.length, b.length); ++i) {
            const da = JSON.stringify(a[i]);
            const db = JSON.stringify(b[i]);
            if (da !== db) differences.push(`observation ${i}:\n  direct ${da}\n  pgrev  ${db}`);
        }
        if (differences.length) {
            failLater(
                'the driver saw something else through pgrev than directly ' +
                `(${differences.length} of ${a.length} observations):\n${differences.join('\n')}`);
        } else {
            console.log(`ok: ${a.length} observations identical directly and through pgrev`);
        }
        await verifyHistory();
        console.log('ok: the latest revision of every row equals the row');
        const [{n}] = await adminQuery('SELECT count(*)::int AS n FROM reservation_rev');
        same(n, 35, 'revision rows written by the whole scenario');
        await poolUpdates();
    } finally {
        await admin.end();
    }
    if (deferred.length)
        throw new Failure(`${deferred.length} problem(s), each printed above as PROBLEM`);
    console.log('PASS pg_test.js');
}

main().catch((e) => {
    console.error(e instanceof Failure ? `FAIL pg_test.js: ${e.message}` : e);
    process.exit(1);
});
