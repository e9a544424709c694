"""A database store whose user may log in but not make MLflow's tables (a platform team's least-privilege role, a
database someone else owns): one line naming the user, the schema and the GRANT that fixes it, before MLflow's
first migration ends ``workbench server`` (or a sweep) in a hundred lines of SQL and traceback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.team.conftest import Postgres, free_port
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.tracking import check_store

pytestmark = [pytest.mark.integration]


def _role_without_create(postgres: Postgres) -> str:
    """A new database owned by the cluster's superuser, and a login role that is not its owner: PostgreSQL 15 lets
    only the owner create tables in its public schema. The role's store URI."""
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    role, database = f"reader_{suffix}", f"owned_{suffix}"
    postgres.create_database(database)
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 's3cret-{suffix}'")
    return f"postgresql://{role}:s3cret-{suffix}@127.0.0.1:{postgres.port}/{database}"


def test_a_store_whose_user_may_not_create_tables_is_one_line_naming_the_grant(postgres: Postgres) -> None:
    uri = _role_without_create(postgres)
    role = uri.split("://", 1)[1].split(":", 1)[0]
    with pytest.raises(WorkbenchError) as caught:
        check_store(uri, must_exist=False)
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message
    assert f"user '{role}' may not create tables" in message
    assert f"GRANT CREATE ON SCHEMA public TO {role}" in message
    check_store(uri, must_exist=True)  # reading needs no CREATE: a reader's empty store is MLflow's to report


def test_a_store_whose_tables_exist_needs_no_create_right(postgres: Postgres) -> None:
    """A role given only the rights to use a store its owner made (the migrations ran as the owner) is not refused."""
    import psycopg

    store = postgres.create_store(f"made_{uuid.uuid4().hex[:8]}")
    database = store.rsplit("/", 1)[1]
    role = f"user_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, dbname=database, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    check_store(f"postgresql://{role}@127.0.0.1:{postgres.port}/{database}", must_exist=False)


def test_workbench_server_on_such_a_store_exits_2_in_one_line(postgres: Postgres, tmp_path: Path,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    uri = _role_without_create(postgres)
    code = main(["server", "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "artifacts"),
                 "--host", "127.0.0.1", "--port", str(free_port())])
    out, err = capfd.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "may not create tables" in err and "s3cret" not in out + err
    assert "Traceback" not in out + err and "CREATE TABLE" not in out + err
