"""Meetings and the yearly quotas: held by the database, refused with a clear message."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import DomainError, Meeting, MeetingKind, MeetingStatus, Network, QuotaCounter
from models import meeting as meetings
from tests.conftest import at_once
from tests.helpers import says

# The meetings are planned in the coming year, whatever today is: a meeting already held cannot be
# cancelled, so a fixed year would turn these tests against the rules once it is past.
YEAR = datetime.now(UTC).year + 1


def at(month, day=15, hour=10, year=YEAR):
    return datetime(year, month, day, hour, tzinfo=UTC)


def plan(networks, kind, month, title=None, **values):
    return meetings.plan(
        networks,
        kind=kind,
        title=title or f"{kind} {month}",
        starts_at=at(month),
        ends_at=at(month) + timedelta(hours=2),
        format="digital",
        **values,
    )


def test_a_third_network_meeting_is_refused_and_the_two_are_named(networks):
    plan([networks["NIK"]], MeetingKind.NETWORK, 3, title="Vårmøtet")
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.NETWORK] == (1, 2)
    plan([networks["NIK"]], MeetingKind.NETWORK, 10, title="Høstmøtet")
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        plan([networks["NIK"]], MeetingKind.NETWORK, 11)
    db.session.rollback()
    assert "«Vårmøtet»" in str(refused.value.message) and "«Høstmøtet»" in str(refused.value.message)
    assert len(meetings.planned(networks["NIK"], YEAR, MeetingKind.NETWORK)) == 2
    # Another network: its own quota.
    plan([networks["NIFS"]], MeetingKind.NETWORK, 11)
    db.session.commit()


def test_a_fifth_professional_meeting_is_refused_and_cancelling_frees_a_place(networks):
    planned = [plan([networks["NIK"]], MeetingKind.PROFESSIONAL, month) for month in (2, 4, 6, 8)]
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        plan([networks["NIK"]], MeetingKind.PROFESSIONAL, 10)
    db.session.rollback()
    assert says(str(refused.value.message), "4 fagmøter")
    meetings.cancel(planned[0])
    db.session.commit()
    plan([networks["NIK"]], MeetingKind.PROFESSIONAL, 10)
    db.session.commit()
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.PROFESSIONAL] == (4, 4)


def test_a_joint_meeting_counts_for_every_network_and_is_refused_if_one_is_full(networks):
    joint = plan([networks["NIK"], networks["NIFS"]], MeetingKind.PROFESSIONAL, 2, title="Felles fagmøte")
    db.session.commit()
    assert joint.is_joint
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.PROFESSIONAL] == (1, 4)
    assert meetings.quota_status(networks["NIFS"], YEAR)[MeetingKind.PROFESSIONAL] == (1, 4)
    for month in (4, 6, 8):
        plan([networks["NIFS"]], MeetingKind.PROFESSIONAL, month)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        plan([networks["NIK"], networks["NIFS"]], MeetingKind.PROFESSIONAL, 10)
    db.session.rollback()
    assert "NIFS" in str(refused.value.message)
    # NIK's place taken before NIFS refused was given back with the rollback.
    assert meetings.quota_status(networks["NIK"], YEAR)[MeetingKind.PROFESSIONAL] == (1, 4)


def test_emergency_call_ins_are_outside_the_quotas(networks):
    for month in range(1, 8):
        plan(list(networks.values()), MeetingKind.EMERGENCY, month)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(QuotaCounter)) == 0


def test_the_database_refuses_a_counter_past_its_quota(networks):
    plan([networks["NIK"]], MeetingKind.NETWORK, 3)
    db.session.commit()
    with pytest.raises(IntegrityError, match="within_quota"):
        db.session.execute(update(QuotaCounter).values(used=3))
        db.session.flush()
    db.session.rollback()


def test_the_year_is_the_year_in_norway(networks):
    new_year = plan([networks["NIK"]], MeetingKind.EMERGENCY, 12, title="Nyttårsmøte")
    new_year.starts_at = datetime(2027, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January in Oslo
    assert Meeting.year_of(new_year.starts_at) == 2028


def test_twenty_coordinators_planning_at_once_leave_exactly_four(app_factory, app, networks):
    plan([networks["NIK"]], MeetingKind.PROFESSIONAL, 2)
    plan([networks["NIK"]], MeetingKind.PROFESSIONAL, 3)
    plan([networks["NIK"]], MeetingKind.PROFESSIONAL, 4)
    db.session.commit()
    network_id = networks["NIK"].id
    workers = [app_factory() for _ in range(20)]  # built here: an app is made in one thread

    def attempt(ready, i, worker):
        with worker.app_context():
            try:
                nik = db.session.get(Network, network_id)
                ready()
                try:
                    plan([nik], MeetingKind.PROFESSIONAL, 5 + i % 7, title=f"Forsøk {i}")
                    db.session.commit()
                    return "planned"
                except DomainError:
                    db.session.rollback()
                    return "refused"
            finally:
                db.session.remove()

    outcomes = at_once(attempt, list(enumerate(workers)))
    assert outcomes.count("planned") == 1 and outcomes.count("refused") == 19
    db.session.expire_all()
    count = db.session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.kind == MeetingKind.PROFESSIONAL, Meeting.status == MeetingStatus.PLANNED)
    )
    assert count == 4
