"""My municipality (*Min kommune*): colleagues, the main contact, and what can be done about them.

The same page serves members of the organisation (read-only, plus asking for the
role and reporting changes), its main contact (hand over, invite) and coordinators
of the network (assign, remove).
"""

from datetime import datetime
from functools import cache
from typing import NamedTuple

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased, joinedload

from blueprints.municipalities import bp
from blueprints.municipalities.forms import ChangeRequestForm, HandoverForm, InviteForm, RemoveForm
from blueprints.util import carry_out, form_refused, load
from extensions import db
from models import (
    Anchoring,
    AnchoringStatus,
    ChangeRequest,
    ChangeStatus,
    Handover,
    HandoverStatus,
    Meeting,
    MeetingStatus,
    Member,
    Membership,
    MembershipStatus,
    Network,
    Organisation,
    Signup,
    change_request,
    main_contact,
)
from models.meeting import meeting_networks
from models.policy import Place, allows, require
from models.types import utcnow

VISIBLE = (
    MembershipStatus.PENDING_EMAIL,
    MembershipStatus.PENDING_ANCHORING,
    MembershipStatus.ACTIVE,
    MembershipStatus.LAPSED,
)


class Person(NamedTuple):
    name: str
    email: str
    unit: str | None
    job_title: str | None


class Colleague(NamedTuple):
    """A membership as the page shows it: plain columns read in one query, no ORM objects.  It
    answers the model's questions (``main_contact.may_assign``: ``status``, ``is_main_contact``,
    ``organisation``) like a membership does."""

    id: int
    member_id: int
    network_id: int
    status: MembershipStatus
    is_main_contact: bool
    member: Person
    organisation: Organisation
    anchored: bool  # the membership rests on a line manager's confirmation
    anchored_by: str | None
    anchored_at: datetime | None
    waiting_for: str | None  # the line manager asked, who has not answered yet


class Upcoming(NamedTuple):
    id: int
    title: str
    starts_at: datetime


@cache
def _colleagues_query():
    """Built once (a select costs more to build than this page's rows cost to read); the
    organisation and networks are bound at each execution."""
    anchoring, pending = aliased(Anchoring), aliased(Anchoring)
    return (
        select(
            Membership.id,
            Membership.member_id,
            Membership.network_id,
            Membership.status,
            Membership.is_main_contact,
            Member.name,
            Member.email,
            Member.unit,
            Member.job_title,
            anchoring.id,
            anchoring.decided_by_name,
            anchoring.decided_at,
            pending.manager_name,
        )
        .join(Member, Membership.member_id == Member.id)
        .outerjoin(anchoring, anchoring.id == Membership.anchoring_id)
        # at most one pending request a member (a partial unique index)
        .outerjoin(pending, (pending.member_id == Member.id) & (pending.status == AnchoringStatus.PENDING))
        .where(
            Membership.organisation_id == bindparam("organisation_id"),
            Membership.network_id.in_(bindparam("network_ids", expanding=True)),
            Membership.status.in_(VISIBLE),
        )
        .order_by(Member.name, Membership.id)
    )


def colleagues(organisation, network_ids):
    """The visible memberships of ``organisation`` in ``network_ids``, by name, in one query."""
    rows = db.session.execute(
        _colleagues_query(), {"organisation_id": organisation.id, "network_ids": list(network_ids)}
    )
    # the columns in the query's order: the membership's five, the member's four, the anchoring's
    # id, by whom and when, the name of the manager asked
    return [
        Colleague(*row[:5], Person(*row[5:9]), organisation, row[9] is not None, *row[10:]) for row in rows
    ]


class Section:
    """What the viewer may see and do for one network of one organisation."""

    def __init__(self, organisation, network, viewer):
        self.organisation, self.network = organisation, network
        self.place, self.viewer = Place(organisation, network), viewer
        self.mine = next(
            (
                m
                for m in viewer.memberships
                if m.network_id == network.id and m.organisation_id == organisation.id and m.status in VISIBLE
            ),
            None,
        )
        self.coordinator = allows(viewer, "main_contact.assign", self.place)
        # Names and addresses of the others: not for a member whose line manager has not confirmed them.
        self.shows_colleagues = allows(viewer, "municipality.colleagues", self.place)

    def fill(self, members, change_requests, upcoming, offers, my_reports=()):
        """The section's rows, out of what ``load`` read for all sections at once."""
        self.members = [m for m in members if m.network_id == self.network.id]
        # What the viewer reported to the member list here, and what became of it.
        self.my_reports = [r for r in my_reports if r.network_id == self.network.id]
        self.main_contact = next((m for m in self.members if m.is_main_contact), None)
        self.active = [m for m in self.members if m.status == MembershipStatus.ACTIVE]
        self.needs_main_contact = main_contact.lacks_main_contact(
            self.organisation, self.main_contact, len(self.active)
        )
        self.change_requests = [c for c in change_requests if c.network_id == self.network.id]
        self.upcoming = {
            member_id: [m for network_id, m in meetings if network_id == self.network.id]
            for member_id, meetings in upcoming.items()
        }
        ids = {m.id for m in self.members}
        self.offers = [o for o in offers if o.to_membership_id in ids]
        if not self.shows_colleagues:
            self.members = [m for m in self.members if self.mine is not None and m.id == self.mine.id]
        return self

    @classmethod
    def load(cls, organisation, networks, viewer):
        """The sections of ``networks`` the viewer may see, read in a fixed number of queries."""
        sections = [s for s in (cls(organisation, network, viewer) for network in networks) if s.visible]
        if not sections:
            return []
        network_ids = [s.network.id for s in sections]
        members = colleagues(organisation, network_ids)
        change_requests = db.session.scalars(
            select(ChangeRequest)
            .where(
                ChangeRequest.organisation_id == organisation.id,
                ChangeRequest.network_id.in_(network_ids),
                ChangeRequest.status == ChangeStatus.PENDING,
            )
            .order_by(ChangeRequest.created_at)
        ).all()
        upcoming = upcoming_signups({m.member_id for m in members}, network_ids)
        offers = db.session.scalars(
            select(Handover)
            .where(
                Handover.status == HandoverStatus.PENDING,
                Handover.to_membership_id.in_([m.id for m in members]),
            )
            # what ``main_contact.may_answer`` and the page ask of an offer, in the same query
            .options(
                joinedload(Handover.to_membership),
                joinedload(Handover.from_membership).joinedload(Membership.member),
            )
        ).all()
        my_reports = ChangeRequest.reports_by(viewer, organisation.id, network_ids)
        return [s.fill(members, change_requests, upcoming, offers, my_reports) for s in sections]

    @property
    def visible(self):
        """The policy says who; a coordinator sees a network only where the organisation can take part."""
        return allows(self.viewer, "municipality.read", self.place) and (
            self.mine is not None or self.network.accepts(self.organisation)
        )

    @property
    def i_am_main_contact(self):
        return self.mine is not None and self.mine.is_main_contact

    # What the page offers is what the operations allow: it asks the model's rules.

    @property
    def may_claim(self):
        return main_contact.may_claim(self.mine, self.main_contact)

    @property
    def may_offer(self):
        return main_contact.may_offer(self.mine) and bool(self.colleagues)

    @property
    def may_invite(self):
        return allows(self.viewer, "main_contact.invite", self.place)

    @property
    def sees_change_requests(self):
        """The reported changes waiting for the coordinator: for those who keep the list."""
        return self.i_am_main_contact or self.coordinator

    def may_assign(self, membership):
        return self.coordinator and main_contact.may_assign(membership)

    def may_remove(self, membership):
        return self.coordinator and main_contact.may_remove(membership)

    @property
    def assign_url(self):
        """The address that makes a member main contact is this and the membership's id (one
        url_for for the section, not one a row)."""
        return url_for(
            "municipalities.assign",
            organisation_id=self.organisation.id,
            code=self.network.code,
            membership_id=0,
        ).removesuffix("0")

    @property
    def offer_to_me(self):
        return next((o for o in self.offers if main_contact.may_answer(o, current_user)), None)

    @property
    def colleagues(self):
        if not self.shows_colleagues:
            return []
        return [m for m in self.active if self.mine is None or m.id != self.mine.id]


@cache
def _upcoming_query():
    return (
        select(Signup.member_id, meeting_networks.c.network_id, Meeting.id, Meeting.title, Meeting.starts_at)
        .join(Meeting, Signup.meeting_id == Meeting.id)
        .join(meeting_networks, meeting_networks.c.meeting_id == Meeting.id)
        .where(
            Signup.member_id.in_(bindparam("member_ids", expanding=True)),
            meeting_networks.c.network_id.in_(bindparam("network_ids", expanding=True)),
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.starts_at > bindparam("now"),
        )
        .order_by(Meeting.starts_at)
    )


def upcoming_signups(member_ids, network_ids):
    """{member id: [(network id, upcoming meeting of that network they signed up for)]}, in one
    query (a meeting of two networks comes once for each)."""
    rows = db.session.execute(
        _upcoming_query(),
        {"member_ids": list(member_ids), "network_ids": list(network_ids), "now": utcnow()},
    ).all()
    result = {}
    for member_id, network_id, meeting_id, title, starts_at in rows:
        result.setdefault(member_id, []).append((network_id, Upcoming(meeting_id, title, starts_at)))
    return result


def sections_for(organisation):
    return Section.load(
        organisation,
        db.session.scalars(select(Network).order_by(Network.id)).all(),
        current_user._get_current_object(),  # the member, not the proxy: the policy asks it often
    )


def load_section(organisation_id, code, action):
    """Load or 404, then ask the policy (``action`` on this organisation in this network): the
    order every action here follows."""
    organisation = load(Organisation, organisation_id)
    network = load(Network, code, by="code")
    require(action, Place(organisation, network))
    sections = Section.load(organisation, [network], current_user)
    if not sections:
        abort(403)
    return sections[0]


def page_of(organisation_id, code=None):
    """The municipality's page, at the network's section."""
    return url_for("municipalities.show", organisation_id=organisation_id) + (
        f"#network-{code}" if code else ""
    )


def back(section):
    return redirect(page_of(section.organisation.id, section.network.code), code=303)


@bp.get("/")
@login_required
def mine():
    return redirect(url_for("municipalities.show", organisation_id=current_user.organisation_id))


@bp.get("/<int:organisation_id>")
@login_required
def show(organisation_id):
    organisation = load(Organisation, organisation_id, "municipality.read")
    sections = sections_for(organisation)
    if not sections:
        abort(403)
    return render_template(
        "municipalities/show.html",
        organisation=organisation,
        sections=sections,
        # each status's label, translated once for the page rather than once a row
        status_labels={status: str(status.label) for status in VISIBLE},
        # the sentence under each anchored member, translated once ("%" escapes what fills it)
        anchored_by=Markup(escape(_("Anchored by %(name)s on %(date)s."))),
    )


def act(operation, success, organisation_id, code=None):
    """``carry_out`` with this page's answer: back to the network's section.  Who may not at all
    (``NotAllowed``) gets a 403; a refusal of the moment is a message on the page."""

    def refused(error):
        if isinstance(error, main_contact.NotAllowed):
            abort(403)
        flash(error.message, "error")
        return redirect(page_of(organisation_id, code), code=303)

    return carry_out(operation, success, page_of(organisation_id, code), on_refusal=refused)


@bp.post("/<int:organisation_id>/<code>/claim")
@login_required
def claim(organisation_id, code):
    section = load_section(organisation_id, code, "main_contact.claim")
    return act(
        lambda: main_contact.claim(section.mine),
        _(
            "You are now main contact for %(org)s in %(network)s.",
            org=section.organisation.name,
            network=section.network.code,
        ),
        organisation_id,
        code,
    )


@bp.post("/<int:organisation_id>/<code>/handover")
@login_required
def handover(organisation_id, code):
    section = load_section(organisation_id, code, "main_contact.offer")
    form = HandoverForm()
    chosen = form.colleague.data if form.validate_on_submit() else None
    colleague = db.session.get(Membership, chosen) if chosen else None
    if colleague is None:
        flash(_("Choose a colleague from the list."), "error")
        return back(section)
    return act(
        lambda: main_contact.offer(section.mine, colleague),
        _(
            "We have asked %(name)s to take over. You stay main contact until they accept.",
            name=colleague.member.name,
        ),
        organisation_id,
        code,
    )


ANSWERED = {
    main_contact.Answer.ACCEPTED: (_l("You are now main contact."), "success"),
    main_contact.Answer.ALREADY_ACCEPTED: (_l("You have accepted: you are main contact."), "info"),
    main_contact.Answer.DECLINED: (_l("You declined the offer."), "info"),
    main_contact.Answer.ALREADY_DECLINED: (_l("You declined the offer."), "info"),
}


@bp.post("/handovers/<int:handover_id>/<any(accept, decline):answer>")
@login_required
def answer_handover(handover_id, answer):
    offer = load(Handover, handover_id, "main_contact.answer")
    organisation_id = offer.to_membership.organisation_id
    previous = offer.from_membership.member.name
    return act(
        lambda: main_contact.answer(offer, current_user, accept=answer == "accept"),
        lambda outcome: (
            # the offer is withdrawn: kept so
            (_("The offer lapsed: %(name)s is no longer main contact.", name=previous), "error")
            if outcome == main_contact.Answer.LAPSED
            else ANSWERED[outcome]
        ),
        organisation_id,
    )


@bp.post("/<int:organisation_id>/<code>/invite")
@login_required
def invite(organisation_id, code):
    section = load_section(organisation_id, code, "main_contact.invite")
    form = InviteForm()
    if not form.validate_on_submit():
        return form_refused(form, page_of(organisation_id, code))
    return act(
        lambda: main_contact.invite(
            current_user, section.organisation, section.network, form.email.data, form.message.data
        ),
        lambda sent: (
            _("The invitation to %(email)s is on its way.", email=form.email.data)
            if sent
            else (
                _(
                    "%(email)s was invited less than a day ago; that invitation stands.",
                    email=form.email.data,
                ),
                "info",
            )
        ),
        organisation_id,
        code,
    )


def _refused_report(form, error):
    """A refused report is shown next to the address it is about (one waiting already) or the
    new address (missing, or the same as the old); the form is drawn again."""
    field = form.email if isinstance(error, change_request.AlreadyReported) else form.new_email
    field.errors = [*field.errors, error.message]


@bp.route("/<int:organisation_id>/<code>/report", methods=["GET", "POST"])
@login_required
def report(organisation_id, code):
    """Any member reports an address to add, change or remove; the coordinator decides."""
    section = load_section(organisation_id, code, "change.report")
    form = ChangeRequestForm()
    if form.validate_on_submit() and (
        done := carry_out(
            lambda: change_request.report(
                current_user,
                section.organisation,
                section.network,
                form.action.data,
                form.email.data,
                new_email=form.new_email.data or None,
                name=(form.name.data or "").strip() or None,
                note=(form.note.data or "").strip() or None,
            ),
            lambda reported: (
                _("Thank you. The coordinator will handle the change.")
                if reported[1]
                else (_("The coordinator already has this report; it is waiting to be handled."), "info")
            ),
            page_of(organisation_id, code),
            on_refusal=lambda error: _refused_report(form, error),
        )
    ):
        return done
    return render_template(
        "municipalities/report.html", section=section, form=form
    ), 422 if form.errors else 200


@bp.post("/<int:organisation_id>/<code>/assign/<int:membership_id>")
@login_required
def assign(organisation_id, code, membership_id):
    """The coordinator makes a member main contact (replacing whoever held the role)."""
    section = load_section(organisation_id, code, "main_contact.assign")
    if not any(m.id == membership_id for m in section.members):  # not on this section's list
        abort(404)
    chosen = db.session.get(Membership, membership_id)
    if chosen is None:
        abort(404)
    return act(
        lambda: main_contact.assign(chosen),
        _(
            "%(name)s is now main contact for %(org)s in %(network)s.",
            name=chosen.member.name,
            org=section.organisation.name,
            network=section.network.code,
        ),
        organisation_id,
        code,
    )


@bp.post("/<int:organisation_id>/<code>/remove")
@login_required
def remove(organisation_id, code):
    """The coordinator removes the main contact (the one the page showed); the municipality is
    flagged if it needs one."""
    section = load_section(organisation_id, code, "main_contact.remove")
    form = RemoveForm()
    if not form.validate_on_submit():  # not a membership id: a forged request, nothing removed
        abort(400)
    return act(
        lambda: main_contact.remove(organisation_id, section.network, form.membership.data),
        lambda removed: (
            _("%(name)s is no longer main contact.", name=removed.member.name)
            if removed is not None
            else (_("Nobody is main contact now."), "info")
        ),
        organisation_id,
        code,
    )
