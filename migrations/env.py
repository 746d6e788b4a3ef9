import logging
from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from flask import current_app
from sqlalchemy import text

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# The app's logging (logs.py, set up by create_app) prints alembic's lines too, in the app's format;
# alembic.ini's own logging only when run without it.
if not any(getattr(handler, "_tracker_handler", False) for handler in logging.getLogger().handlers):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


class LossyDowngrade(CommandError):
    """A downgrade that would lose what people entered, refused before any step ran."""


def refuse_lossy_downgrades(migration_context, connection):
    """Refuse a downgrade that would drop data people entered, unless ``-x lossy=yes`` is given.

    A version whose downgrade drops such data says what, in ``DOWNGRADE_LOSES``: {what is
    lost: SQL counting the rows that hold it}.  Every step of the downgrade is counted here,
    before the first one runs, so a refusal changes nothing – on SQLite too, where alembic
    commits each step on its own.  (The counts run on the schema the downgrade starts from: a
    later migration that renames what an older count reads must change that count.)
    """
    if context.get_x_argument(as_dictionary=True).get("lossy") == "yes":
        return
    steps_of = migration_context._migrations_fn  # alembic computes the steps here, once

    def checked(heads, ctx):
        steps = list(steps_of(heads, ctx))
        losses = []
        for step in steps:
            if getattr(step, "is_upgrade", True) or not hasattr(step, "revision"):
                continue
            counts = [
                (connection.execute(text(count_sql)).scalar(), what)
                for what, count_sql in getattr(step.revision.module, "DOWNGRADE_LOSES", {}).items()
            ]
            lost = "; ".join(f"{count} {what}" for count, what in counts if count)
            if lost:
                losses.append(f"  {step.revision.revision}: {lost}")
        if losses:
            raise LossyDowngrade(
                "Refusing to downgrade: it would lose data people entered, and upgrading again "
                "would not bring it back:\n" + "\n".join(losses) + "\n"
                "Nothing was changed.  If that loss is intended, take a backup first "
                "(docs/operations.md), then run the downgrade again with -x lossy=yes, for example "
                "flask db downgrade -x lossy=yes <revision>."
            )
        return steps

    migration_context._migrations_fn = checked


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, DROP, rename).  With foreign keys on,
            # SQLite's DROP TABLE first deletes every row, firing ON DELETE CASCADE / SET NULL
            # in the tables that refer to it: data lost.  Off for the migration (the pragma is
            # ignored inside a transaction, so before it), then checked and back on.
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
        refuse_lossy_downgrades(context.get_context(), connection)

        try:
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"the migration left rows whose references are broken: {broken[:5]}"
                        )
        except BaseException:
            if sqlite:  # the connection goes back to the app's pool: with foreign keys on again
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            raise
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
