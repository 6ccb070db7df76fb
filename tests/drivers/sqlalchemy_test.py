#!/usr/bin/env python3
"""SQLAlchemy 1.4 ORM (on psycopg2) through pgrev, with a plain declarative Reservation
model and no audit library: pgrev alone keeps the history.

The sqlalchemy-audit README timeline (Steve books for 6, changes to 4, cancels) must leave
exactly its three revision rows: the INSERT with the server default last_modified filled
in, the UPDATE with party 4, the DELETE with only the id. The ORM checks the row count of
every UPDATE and DELETE it flushes (StaleDataError when it is not the number of rows it
meant), so the counts pgrev hands back must be right, for single rows, for several objects
flushed with executemany (plain and as a batch of statements in one Query), for a bulk
query.update()/delete(), and for a row another session changed in between (no error) or
deleted (StaleDataError, as directly). Every SQL statement the ORM ran and the row count it
got are compared with the same scenario run directly.
"""

import datetime

from sqlalchemy import (Column, Date, DateTime, Integer, String, Time, create_engine, event,
                        func, text)
from sqlalchemy.orm import Session, declarative_base
from sqlalchemy.orm.exc import StaleDataError

from driver_common import (UPSTREAM_SSL, check, check_equal, check_legs, log, main, normalize,
                           reset, run_differential, sql, url)

Base = declarative_base()


class Reservation(Base):
    __tablename__ = "reservation"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    date = Column(Date)
    time = Column(Time)
    party = Column(Integer)
    last_modified = Column(DateTime(timezone=True), nullable=False, server_default=func.now())


# The same table as the README's model writes it, with last_modified also set by every
# UPDATE (onupdate=now()), and server-generated values read back in the same statement
# (eager_defaults: INSERT/UPDATE ... RETURNING) rather than by a SELECT afterwards.
StampedBase = declarative_base()


class StampedReservation(StampedBase):
    __tablename__ = "reservation"
    __mapper_args__ = {"eager_defaults": True}
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    date = Column(Date)
    time = Column(Time)
    party = Column(Integer)
    last_modified = Column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                           onupdate=func.now())


def make_engine(target, run, **options):
    engine = create_engine(url(target, "postgresql+psycopg2"), future=True, **options)

    @event.listens_for(engine, "after_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        run.see("sql", statement=statement, parameters=normalize(parameters),
                executemany=executemany, rowcount=cursor.rowcount)
    return engine


def rev_rows():
    return sql("SELECT rev_isdelete, id, name, date, time, party, last_modified "
               "FROM reservation_rev ORDER BY rev_created")


def readme_timeline(run, model):
    """The example of the sqlalchemy-audit README, step by step."""
    engine = make_engine(run.target, run)
    with Session(engine) as session:
        steve = model(name="Steve", date=datetime.date(2015, 4, 15),
                      time=datetime.time(19, 0), party=6)
        session.add(steve)
        session.commit()
        run.revs("make reservation", "w")
        created = steve.last_modified  # the server default, read back by the ORM
        run.see("server default loaded", filled=created is not None)

        steve.party = 4
        session.commit()
        run.revs("party of 4", "w")
        changed = steve.last_modified

        session.delete(steve)
        session.commit()
        run.revs("cancel", "d")
    engine.dispose()

    if run.watcher is not None:
        revs = rev_rows()
        expected = [
            (False, 1, "Steve", datetime.date(2015, 4, 15), datetime.time(19, 0), 6, created),
            (False, 1, "Steve", datetime.date(2015, 4, 15), datetime.time(19, 0), 4, changed),
            (True, 1, None, None, None, None, None),
        ]
        check_equal(revs, expected, f"reservation_rev after the README timeline ({model.__name__})")
        if model is StampedReservation:
            check(changed > created, f"last_modified not advanced by the UPDATE: {revs!r}")
        log(f"ok: the README timeline ({model.__name__}) left exactly its three revision rows")


def more_orm(run):
    """Row counts the ORM checks: several objects, bulk statements, other sessions."""
    for mode in ("values_only", "values_plus_batch"):
        engine = make_engine(run.target, run, executemany_mode=mode)
        with Session(engine) as session:
            people = [Reservation(name=f"{mode} {i}", party=i) for i in range(1, 5)]
            session.add_all(people)
            session.commit()
            run.revs(f"{mode}: add_all", "wwww")
            # One UPDATE per object, flushed together with executemany (the objects are
            # expired after the commit; assigning does not load them, reading would).
            for i, p in enumerate(people, start=1):
                p.party = i * 10
            session.commit()
            run.revs(f"{mode}: update several", "wwww")
            for p in people[:2]:
                session.delete(p)
            session.commit()
            run.revs(f"{mode}: delete several", "dd")
        engine.dispose()

    engine = make_engine(run.target, run)
    with Session(engine) as session:
        count = session.query(Reservation).filter(Reservation.party >= 30).update(
            {Reservation.party: Reservation.party + 1}, synchronize_session="evaluate")
        session.commit()
        run.see("bulk query.update()", count=count)
        run.revs("bulk query.update()", "wwww")
        count = session.query(Reservation).filter(Reservation.party == 41).delete(
            synchronize_session="fetch")
        session.commit()
        run.see("bulk query.delete()", count=count)
        run.revs("bulk query.delete()", "dd")

        # Another session changes the row in between: the ORM's UPDATE still finds it.
        mine = session.query(Reservation).filter_by(name="values_only 3").one()
        with Session(engine) as other:
            theirs = other.get(Reservation, mine.id)
            theirs.party = 99
            other.commit()
        run.revs("other session's update", "w")
        mine.name = "renamed"
        session.commit()  # no StaleDataError
        run.revs("update after another session's update", "w")
        session.refresh(mine)
        run.see("row after both updates", name=mine.name, party=mine.party)

        # Another session deletes the row: UPDATE 0, and the ORM says so.
        with Session(engine) as other:
            other.delete(other.get(Reservation, mine.id))
            other.commit()
        run.revs("other session's delete", "d")
        mine.party = 5
        try:
            session.commit()
            run.see("update of a deleted row", error=None)
        except StaleDataError as exc:
            run.see("update of a deleted row", error=type(exc).__name__, message=str(exc))
            session.rollback()
        run.no_revs("update of a deleted row")
    engine.dispose()


def scenario(run):
    # Each part starts from an empty table and history (ids from 1 again).
    readme_timeline(run, Reservation)
    reset()
    readme_timeline(run, StampedReservation)
    reset()
    more_orm(run)


def legs():
    engine = create_engine(url("pgrev", "postgresql+psycopg2"), future=True)
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        check_legs("SQLAlchemy", dbapi.info.ssl_in_use, conn.execute(text(UPSTREAM_SSL)).scalar())
    engine.dispose()


def test():
    legs()
    pgrev_run = run_differential(scenario)
    stale = [o for o in pgrev_run.observations if o[0] == "update of a deleted row"]
    check(stale and stale[0][1].get("error") == "StaleDataError",
          f"updating a row deleted meanwhile should raise StaleDataError: {stale!r}")
    unexpected = [o for o in pgrev_run.observations
                  if o[0] != "update of a deleted row" and "error" in o[1]]
    check(not unexpected, f"unexpected errors: {unexpected!r}")
    log("ok: StaleDataError only where it belongs")


if __name__ == "__main__":
    main(test)
