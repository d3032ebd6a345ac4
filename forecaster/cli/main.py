"""`forecaster`'s entry point: parse, read the settings, run the command, and render what went
wrong as one line (a domain error, an invalid setting, a database that cannot be opened)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from forecaster.cli.parser import build_parser
from forecaster.cli.render import cli_message
from forecaster.config import Settings, get_settings
from forecaster.errors import ForecasterError, echo


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError: a setting is not valid
        print(f"error: {_settings_error(exc)}", file=sys.stderr)
        return 2
    if args.database_url:  # validated as the environment's would be
        try:
            settings = Settings.model_validate(
                {**settings.model_dump(), "database_url": args.database_url}
            )
        except ValueError as exc:
            message = _settings_error(exc).replace("FORECASTER_DATABASE_URL", "--database-url")
            print(f"error: {message}", file=sys.stderr)
            return 2
    _logging(settings)
    try:
        return int(args.handler(args, settings))
    except ForecasterError as exc:
        print(f"error: {cli_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        reason = _database_error(exc, settings.database_url)
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return 2


class _PrintedByTheCli(logging.Filter):
    """Drops Prefect's traceback of a flow that ended in a domain error: the error reaches
    `main`, which prints it as its one line (a refusal is not a crash)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ForecasterError))


_PRINTED_BY_THE_CLI = _PrintedByTheCli()


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # the flow engine logs a flow's exception before re-raising it to the command
    logging.getLogger("prefect.flow_runs").addFilter(_PRINTED_BY_THE_CLI)
    for noisy in ("httpx", "httpcore", "prefect", "alembic"):  # their INFO lines bury ours
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _settings_error(exc: ValueError) -> str:
    """One line per invalid setting, naming its environment variable and what is valid."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc).splitlines()[0]
    parts = []
    for e in errors():
        name = "_".join(str(p) for p in e.get("loc", ())).upper()
        message = str(e.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"FORECASTER_{name}: {message}" if name else message)
    return "; ".join(parts)


def _database_error(exc: Exception, url: str) -> str | None:
    """One line for a database the user named wrongly or that cannot be reached (else None)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        shown = url
    if isinstance(exc, ArgumentError):
        return (
            f"the database URL {echo(shown)} cannot be opened ({str(exc).splitlines()[0]}); give "
            "e.g. sqlite:///forecaster.db or postgresql+psycopg://user:password@host/db "
            "(--database-url or FORECASTER_DATABASE_URL)"
        )
    if isinstance(exc, OperationalError):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot open the database at {echo(shown)}: {reason}"
    return None


if __name__ == "__main__":
    sys.exit(main())
