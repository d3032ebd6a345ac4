"""forecaster.app.runs: what a run records about who runs it."""

from __future__ import annotations

import os
import socket

from forecaster.app.runs import Executor
from tests.pg import Cluster


def test_the_executor_as_a_run_records_it() -> None:
    here = Executor.here()
    assert (here.host, here.pid) == (socket.gethostname(), os.getpid())
    assert Executor("h", 7).to_json() == {"host": "h", "pid": 7}
    assert list(Executor("h", 7).to_json("flow").items()) == [
        ("mode", "flow"), ("host", "h"), ("pid", 7)
    ]  # fmt: skip


def test_time_the_database_was_down_is_not_held_against_a_lease(own_cluster: Cluster) -> None:
    """A 20 s PostgreSQL restart: the runs that could not beat meanwhile are not reaped as dead
    when it comes back; a run whose heartbeats do not resume is, a full stale_s later."""
    from datetime import timedelta

    from sqlalchemy import text

    from forecaster.app.runs import LeasePolicy, reap
    from forecaster.db.models import Run, utcnow
    from forecaster.db.session import Database, make_engine, upgrade

    cluster = own_cluster
    engine = make_engine(cluster.admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('CREATE DATABASE "leases"'))
    engine.dispose()
    upgrade(cluster.url("leases"))
    policy = LeasePolicy(heartbeat_s=5.0, stale_s=30.0)
    with Database(cluster.url("leases")) as db:
        last_beat = utcnow() - timedelta(seconds=25)  # then the database went down
        with db.sessions.begin() as session:
            session.add(Run(kind="retrain", status="running", started_at=last_beat,
                            heartbeat_at=last_beat, parameters={"series": []}))  # fmt: skip
        cluster.pause()
        cluster.resume()
        db.dispose()
        now = utcnow() + timedelta(seconds=10)  # 35 s since its last beat, 10 s since up
        with db.sessions.begin() as session:
            assert reap(session=session, policy=policy, now=now) == []
            up = now + timedelta(seconds=policy.stale_s)  # still no beat: it is dead
            assert reap(session=session, policy=policy, now=up) == [1]
