"""``flask`` commands: reference data, the outbox, reminders (anchorings, meetings, reviews, advice), coordinators."""

import logging

import click
from flask import current_app
from flask.cli import AppGroup
from flask_mail import Message

from extensions import db, mail
from models import audit

reference_cli = AppGroup("reference", help="The organisation register's reference data.")
mail_cli = AppGroup("mail", help="Mail delivery.")
outbox_cli = AppGroup("outbox", help="The durable mail outbox.")
anchorings_cli = AppGroup("anchorings", help="Line-manager anchoring.")
meetings_cli = AppGroup("meetings", help="Meetings.")
reviews_cli = AppGroup("reviews", help="The yearly mandate review.")
advice_cli = AppGroup("advice", help="Requests for advice.")
demo_cli = AppGroup("demo", help="Demo and scale data.")
privacy_cli = AppGroup("privacy", help="Personal data: the retention rule.")
data_cli = AppGroup("data", help="Moving data between databases, and backups.")
second_factor_cli = AppGroup("second-factor", help="Coordinators' second factor (docs/second-factor.md).")
worker_log = logging.getLogger("tracker.worker")


@reference_cli.command("load")
@click.option(
    "--municipalities",
    default="kommuner.csv",
    show_default=True,
    help="A new list of municipalities (CSV: number,name,county_number).",
)
@click.option(
    "--counties", default="fylker.csv", show_default=True, help="A new list of counties (CSV: number,name)."
)
@click.option(
    "--merge",
    "merges",
    multiple=True,
    metavar="OLD:NEW",
    help="A municipality merged into another: its members move to NEW.",
)
@click.option(
    "--written-forms",
    type=click.Path(exists=True, dir_okay=False),
    help="Municipalities' and counties' målvedtak (CSV: number,language_decision – nynorsk/bokmål/nøytral).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change, change nothing.")
def load_reference(municipalities, counties, merges, written_forms, dry_run):
    """Load or refresh networks, municipalities, counties, observers and hospital trusts.

    Renames what Statistics Norway renamed and deactivates (never deletes) what it no
    longer lists.  Running it twice changes nothing.
    """
    from models import reference

    try:
        pairs = dict(m.split(":", 1) for m in merges)
    except ValueError as exc:
        raise click.BadParameter("use OLD:NEW, for example 1507:1508", param_hint="--merge") from exc
    prefix = "Would change (dry run, nothing kept): " if dry_run else ""
    if written_forms:  # the målvedtak only: the official lists are loaded by a run without it
        with audit.acting_as(label="flask reference load --written-forms"):
            try:
                decided = reference.load_written_forms(written_forms, dry_run=dry_run)
            except (OSError, ValueError) as exc:
                raise click.ClickException(str(exc)) from exc
        for name, before, after in decided:
            click.echo(f"{prefix}{name}: {before} → {after}")
        click.echo(
            f"{len(decided)} målvedtak {'would change' if dry_run else 'changed'}."
            if decided
            else "The målvedtak are up to date: nothing changed."
        )
        return
    details: list[str] = []
    warnings: list[str] = []
    with audit.acting_as(label="flask reference load"):
        try:
            changes = reference.load(
                municipalities, counties, merges=pairs, dry_run=dry_run, details=details, warnings=warnings
            )
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    # Each organisation and member by name (a dry run: what would happen), then the warnings
    # (on stderr too, where an operator's script looks), then the counts.
    for line in details:
        click.echo(f"{'Would: ' if dry_run else ''}{line}")
    for warning in warnings:
        click.echo(warning, err=True)
    if changes:
        click.echo(prefix + ", ".join(f"{what}: {n}" for what, n in sorted(changes.items())))
    else:
        click.echo("Reference data is up to date: nothing changed.")


@mail_cli.command("check")
@click.argument("address")
def check_mail(address):
    """Send one test message to ADDRESS, to check the SMTP settings."""
    message = Message(
        subject="Test fra medlemsregisteret for migrasjonshelsenettverkene",
        recipients=[address],
        body="Denne testmeldingen viser at e-post fra medlemsregisteret kommer fram.\n\n"
        "This test message shows that mail from the membership tracker gets through.\n",
    )
    try:
        mail.send(message)
    except OSError as exc:
        cfg = current_app.config
        raise click.ClickException(
            f"Could not send through {cfg['MAIL_SERVER']}:{cfg['MAIL_PORT']}: {exc}"
        ) from exc
    click.echo(f"Sent a test message to {address}.")


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running, sending new mail as it is written.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds in --loop.")
@click.option("--batch", default=50, show_default=True, help="Mails claimed per round.")
def send_outbox(loop, interval, batch):
    """Send the mails that are due (one round, or --loop as a worker).

    As a worker it outlives the database and the SMTP server going away, and its own faults: a
    round that fails is logged (with the reason; anything unforeseen with its traceback) and the
    next comes after a pause growing to a minute; the pool's pre-ping reconnects, and the mails
    this worker had claimed are given back once the database answers.  An SMTP server that is
    away defers the mails (``models/outbox.py``).  Each round writes the heartbeat "outbox".
    """
    from models import heartbeat, outbox

    def one_round():
        counts = outbox.deliver(limit=batch)
        while counts["sent"] == batch and not heartbeat.stopping():  # more waiting: go on before sleeping
            counts = {k: v + counts[k] for k, v in outbox.deliver(limit=batch).items()}
        if not loop:
            click.echo(
                f"{_now()} sent: {counts['sent']}, failed: {counts['failed']}, deferred: {counts['deferred']}"
            )
        elif counts["sent"] or counts["failed"] or counts["deferred"]:
            worker_log.info(
                "sent %d, failed %d, deferred %d", counts["sent"], counts["failed"], counts["deferred"]
            )
        return f"sent {counts['sent']}, failed {counts['failed']}, deferred {counts['deferred']}"

    if not loop:
        heartbeat.beat(heartbeat.WORKER, one_round())
        return
    worker_log.info("mail worker started (every %.1f s, %d mails a round)", interval, batch)
    heartbeat.keep_running(heartbeat.WORKER, one_round, interval, logger=worker_log)


def _now():
    from models.types import utcnow

    return utcnow().isoformat(timespec="seconds")


def retry_for_option(command):
    """``--retry-for``: how long a cron command waits for a database that does not answer."""
    return click.option(
        "--retry-for",
        default=120.0,
        show_default=True,
        metavar="SECONDS",
        help="Try again for this long while the database does not answer, then fail.",
    )(command)


def _cron(name, work, retry_for, describe=str):
    """Run a cron command's work with retries and its heartbeat (``models.heartbeat.run``); a
    database away for the whole period ends the command with one line and exit status 1."""
    from models import heartbeat

    try:
        return heartbeat.run(name, work, retry_for=retry_for, describe=describe)
    except heartbeat.Unavailable as exc:
        raise click.ClickException(str(exc)) from exc


@anchorings_cli.command("remind")
@retry_for_option
def remind_managers(retry_for):
    """Remind, once, each line manager who has not answered in 7 days (run daily from cron)."""
    from models.accounts import send_reminders

    def work():
        with audit.acting_as(label="flask anchorings remind"):
            count = send_reminders()
        db.session.commit()
        return count

    count = _cron("anchorings remind", work, retry_for, "reminders: {}".format)
    click.echo(f"Reminders written to the outbox: {count}")


@meetings_cli.command("remind")
@retry_for_option
def remind_meetings(retry_for):
    """Mail those signed up for a meeting the day before it, once each (run hourly or daily from cron).

    The sign-ups are claimed in the database, so two runs at once (two cron hosts) send each reminder once.
    """
    from models.signup import send_reminders

    def work():
        with audit.acting_as(label="flask meetings remind"):
            count = send_reminders()
        db.session.commit()
        return count

    count = _cron("meetings remind", work, retry_for, "reminders: {}".format)
    click.echo(f"Meeting reminders written to the outbox: {count}")


@reviews_cli.command("tick")
@click.option(
    "--now",
    "now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M"]),
    help="Act as if it were this moment (UTC), e.g. to close a cycle ahead of time in a test.",
)
@retry_for_option
def tick_reviews(now, retry_for):
    """Send the yearly reviews' due reminders and close the due cycles (run hourly or daily from cron).

    Each step happens once: running it twice in a row sends and lapses nothing more.
    """
    from datetime import UTC

    from models import review

    def work():
        with audit.acting_as(label="flask reviews tick"):
            return review.tick(now.replace(tzinfo=UTC) if now else None)

    def describe(done):
        return f"reminders: {done['reminded']}, cycles closed: {done['closed']}, members lapsed: {done['lapsed']}"

    click.echo(describe(_cron("reviews tick", work, retry_for, describe)))


@advice_cli.command("remind")
@click.option(
    "--now",
    "now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M"]),
    help="Act as if it were this moment (UTC).",
)
@retry_for_option
def remind_advice(now, retry_for):
    """Send the requests for advice's due reminders, once each, to those who have not answered (run from cron)."""
    from datetime import UTC

    from models import advice

    def work():
        with audit.acting_as(label="flask advice remind"):
            return advice.remind_due(now.replace(tzinfo=UTC) if now else None)

    count = _cron("advice remind", work, retry_for, "reminders: {}".format)
    click.echo(f"Reminders to requests for advice written to the outbox: {count}")


@privacy_cli.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="The retention period; by default PRIVACY_RETENTION_DAYS (365).",
)
@retry_for_option
def purge_privacy(days, retry_for):
    """Erase the personal data of former members whose last membership ended more than the retention
    period ago (run daily from cron); each erasure is in the audit log.  Forms' submission keys
    older than a day are forgotten too, so are sign-in links and begun provider sign-ins older than a
    day, and the text of mail sent more than MAIL_BODY_RETENTION_DAYS (90) days ago."""
    from models import privacy, sign_in, submissions

    days = days or current_app.config["PRIVACY_RETENTION_DAYS"]
    mail_days = current_app.config.get("MAIL_BODY_RETENTION_DAYS", 90)

    def work():
        count = privacy.purge(days)
        keys = submissions.forget_old()
        bodies = privacy.forget_sent_bodies(mail_days)
        sign_ins = sign_in.forget_old()
        db.session.commit()
        return count, keys, bodies, sign_ins

    count, keys, bodies, sign_ins = _cron(
        "privacy purge",
        work,
        retry_for,
        lambda done: "erased: {}, submission keys: {}, mail texts: {}, sign-ins: {}".format(*done),
    )
    click.echo(f"Former members erased (last membership ended more than {days} days ago): {count}")
    click.echo(f"Submission keys forgotten (older than a day): {keys}")
    click.echo(f"Texts of mail sent more than {mail_days} days ago forgotten: {bodies}")
    click.echo(f"Sign-in links and begun provider sign-ins forgotten (older than a day): {sign_ins}")


@demo_cli.command("seed")
@click.option("--members", default=300, show_default=True, help="How many demo members.")
@click.option(
    "--years", default=5, show_default=True, help="How many years of meetings, newsletters and reviews."
)
def seed_demo(members, years):
    """Fill the database with realistic fake members and history (the same size twice changes nothing)."""
    try:
        from models import demo
    except ModuleNotFoundError as error:  # Faker: only the demo extra installs it
        raise click.ClickException(
            f"The demo data needs {error.name}: pip install '.[demo]' (make run DEMO=… does)"
        ) from error

    with audit.acting_as(label="flask demo seed"):
        try:
            made = demo.seed(members, years)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    if not made:
        click.echo(f"The demo of {members} members and {years} years is already there.")
        return
    click.echo(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in made.items()))
    click.echo(
        f"Sign in as {demo.COORDINATOR} (coordinator of all three networks) or as any demo member, "
        f"with the password «{demo.DEMO_PASSWORD}»."
    )


@click.command("create-coordinator")
@click.argument("email")
@click.option(
    "--network", "codes", multiple=True, required=True, type=click.Choice(["NIK", "NIFS", "NONEMI"])
)
@click.option("--name", help="Full name, for a new account.")
def create_coordinator(email, codes, name):
    """Make EMAIL coordinator of one or more networks (a new account gets a password link)."""
    from sqlalchemy import select

    from models import DomainError, Network, tokens
    from models.coordinators import appoint
    from models.outbox import link

    networks = db.session.scalars(select(Network).where(Network.code.in_(codes)).order_by(Network.id)).all()
    with audit.acting_as(label="flask create-coordinator"):
        try:
            member, created = appoint(email, networks, name=name)
        except DomainError as error:
            raise click.ClickException(str(error.message)) from error
    db.session.commit()
    click.echo(f"{member.name} <{member.email}> coordinates {', '.join(n.code for n in networks)}.")
    if created:
        token = tokens.make("welcome", member=member.id, version=member.auth_version)
        click.echo("A welcome mail with a link to choose a password is in the outbox. The link:")
        click.echo(link("auth.welcome", token=token))


@second_factor_cli.command("reset")
@click.argument("email")
@click.option(
    "--reason", required=True, help="Why, for the audit log: who asked, how you confirmed it was them."
)
def reset_second_factor(email, reason):
    """Remove the second factor (the app and the recovery codes) of EMAIL, who lost both: after you
    have confirmed who asks (a call).  Mailed to them, in the audit log with REASON; they set it up
    again at their next sign-in."""
    from models import DomainError, Member
    from models import second_factor as factor

    member = Member.by_email(email)
    if member is None or member.deleted_at is not None:
        raise click.ClickException(f"No account has the address {email}.")
    with audit.acting_as(label="flask second-factor reset"):
        try:
            factor.reset(member.take(), reason)
        except DomainError as error:
            raise click.ClickException(str(error.message)) from error
    db.session.commit()
    click.echo(f"The second factor of {member.name} <{member.email}> is removed; they were mailed.")


@data_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
def export_data(path):
    """Write every table to PATH (JSON Lines; gzip if it ends in .gz), to import into another
    database – SQLite to PostgreSQL or back (docs/operations.md)."""
    from models import transfer

    try:
        counts = transfer.export(path)
    except transfer.TransferError as error:
        raise click.ClickException(str(error)) from error
    _echo_counts(counts)
    click.echo(f"Exported {sum(counts.values())} rows of {len(counts)} tables to {path}.")


@data_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--replace", is_flag=True, help="Delete the rows this database holds first (in the same transaction)."
)
def import_data(path, replace):
    """Copy an export into this database: freshly migrated (flask db upgrade) to the export's revision,
    and empty.  One transaction, checked before it commits (row counts, references)."""
    from models import transfer

    try:
        counts = transfer.import_(path, replace=replace)
    except transfer.TransferError as error:
        raise click.ClickException(str(error)) from error
    _echo_counts(counts)
    click.echo(
        f"Imported {sum(counts.values())} rows of {len(counts)} tables; counts and references checked."
    )


@data_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_data(path):
    """Copy the SQLite database to PATH while the app runs (SQLite's online backup, never cp: the
    last commits may still be in the write-ahead log), and check the copy.  PostgreSQL: pg_dump."""
    from models import transfer

    try:
        pages = transfer.backup(path)
    except transfer.TransferError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backed up to {path} ({pages} pages); the copy passed SQLite's integrity check.")


def _echo_counts(counts):
    width = max(map(len, counts))
    for table, count in counts.items():
        click.echo(f"{table:<{width}}  {count}")


def register_commands(app):
    for command in (
        reference_cli,
        mail_cli,
        outbox_cli,
        anchorings_cli,
        meetings_cli,
        reviews_cli,
        advice_cli,
        demo_cli,
        privacy_cli,
        data_cli,
        second_factor_cli,
        create_coordinator,
    ):
        app.cli.add_command(command)
