"""The authorisation matrix's table and world, shared by tests/test_authorisation.py and the
accessibility check in the browser (tests/browser/test_accessibility.py): every (endpoint, method)
with the policy action it asks for, a URL in the world, the kind of scope, the owner and a valid form
(see test_authorisation.py's docstring); the personas' roles; and the world – one of each object
an action works on and one account per persona (the ``world`` fixture in conftest.py)."""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select

from extensions import db
from models import Organisation, outbox
from models.policy import (
    ACTIVE,
    ANONYMOUS,
    COORDINATOR,
    COORDINATOR_ELSEWHERE,
    LAPSED,
    LEFT,
    MAIN_CONTACT,
    MAIN_CONTACT_ELSEWHERE,
    OBSERVER,
    OWNER,
    PENDING_ANCHORING,
    POLICY,
    SIGNED_IN,
)
from tests.conftest import PASSWORD, csrf_token_from, reset_to, sign_in, take_rows

# The personas, each a real account in the world (Bergen and Oslo are municipalities in NIK; FHI an
# observer organisation in NIK; the coordinators are of the Directorate).
PERSONAS = (
    "anonymous",
    "pending_verification",  # of Bergen, address not confirmed: cannot sign in
    "pending_anchoring",  # of Bergen, line manager not asked yet confirmed
    "member",  # of Bergen, active in NIK
    "lapsed",  # of Bergen, lapsed in NIK
    "left",  # of Bergen, left NIK
    "observer",  # of FHI, active in NIK
    "owner",  # of Bergen, active in NIK: the hand-over's recipient, the proposal's and input's author, …
    "member_elsewhere",  # of Oslo, active in NIK
    "main_contact",  # of Bergen in NIK
    "main_contact_elsewhere",  # of Oslo in NIK
    "coordinator_elsewhere",  # of NIFS and NONEMI, not NIK
    "coordinator",  # of NIK
)
CANNOT_SIGN_IN = {"anonymous", "pending_verification"}


def _roles(everywhere, network=None, place=None):
    network = everywhere if network is None else network
    return {
        "none": set(everywhere),
        "network": set(network),
        "place": set(place if place is not None else network),
    }


PERSONA_ROLES = {
    "anonymous": _roles({ANONYMOUS}),
    "pending_verification": _roles({ANONYMOUS}),
    "pending_anchoring": _roles({SIGNED_IN, PENDING_ANCHORING}),
    "member": _roles({SIGNED_IN, ACTIVE}),
    "lapsed": _roles({SIGNED_IN, LAPSED}),
    "left": _roles({SIGNED_IN, LEFT}),
    "observer": _roles({SIGNED_IN, ACTIVE, OBSERVER}, place={SIGNED_IN}),
    "owner": _roles({SIGNED_IN, ACTIVE}),
    "member_elsewhere": _roles({SIGNED_IN, ACTIVE}, place={SIGNED_IN}),
    "main_contact": _roles({SIGNED_IN, ACTIVE, MAIN_CONTACT}),
    "main_contact_elsewhere": _roles(
        {SIGNED_IN, ACTIVE, MAIN_CONTACT}, place={SIGNED_IN, MAIN_CONTACT_ELSEWHERE}
    ),
    "coordinator_elsewhere": _roles({SIGNED_IN, COORDINATOR}, network={SIGNED_IN, COORDINATOR_ELSEWHERE}),
    "coordinator": _roles({SIGNED_IN, COORDINATOR}),
}
# Who goes first among those allowed in a world of its own: the one the action is made for.
ALLOWED_ORDER = (
    "coordinator",
    "main_contact",
    "owner",
    "member",
    "observer",
    "member_elsewhere",
    "main_contact_elsewhere",
    "coordinator_elsewhere",
    "pending_anchoring",
    "lapsed",
    "left",
    "pending_verification",
    "anonymous",
)
BAD_TOKEN = "not-a-valid-token"
# Rules a page asks for a part of itself (each with a test of its own below).
INSIDE_PAGES = {"municipality.colleagues", "newsletter.read"}
ANY = None  # an allowed answer: anything but a refusal or a server error


class Row(NamedTuple):
    action: str
    url: str
    kind: str = "none"  # the object's scope: none, network (NIK), place (Bergen in NIK)
    owner: str | None = None  # the persona the object belongs to
    data: dict | None = None  # a valid form (POST)
    ok: object = 200  # the status an allowed request gets (a tuple: any of them; ANY: any non-refusal)
    changes: bool = False  # an allowed POST (the first) must change some row
    first: str | None = None  # the allowed persona to go first, if not the first of ALLOWED_ORDER


def GET(action, url, kind="none", ok=200, owner=None):
    return Row(action, url, kind, owner, None, ok)


def POST(action, url, kind="none", data=None, ok=303, changes=True, owner=None, first=None):
    return Row(action, url, kind, owner, data or {}, ok, changes, first)


SOON = (datetime.now(UTC) + timedelta(days=10)).date()
LATER = SOON + timedelta(days=21)

MATRIX = {
    # -- public pages and forms whose token is the permission -----------------------------------------------
    ("public.index", "GET"): GET("public.read", "/"),
    ("public.privacy", "GET"): GET("public.read", "/privacy"),
    ("public.accessibility", "GET"): GET("public.read", "/accessibility"),
    ("public.network", "GET"): GET("public.read", "/networks/NIK"),
    ("ops.healthz", "GET"): GET("public.read", "/healthz"),
    ("ops.readyz", "GET"): GET("public.read", "/readyz"),
    # The bearer token is the permission; the test app has no METRICS_TOKEN: metrics off (tests/test_metrics.py).
    ("ops_metrics.metrics", "GET"): GET("public.token_link", "/metrics", ok=404),
    ("public.set_language", "POST"): POST("public.read", "/language", data={"locale": "en"}, changes=False),
    ("organisations.index", "GET"): GET("public.read", "/organisations/"),
    ("reviews.mandate", "GET"): GET("mandate.read", "/mandate/NIK"),
    ("auth.sign_in", "GET"): GET("public.sign_in", "/sign-in", ok=(200, 302)),
    ("auth.sign_in", "POST"): POST("public.sign_in", "/sign-in", ok=ANY, changes=False),
    ("auth.sign_out", "POST"): POST("public.sign_in", "/sign-out", changes=False),
    ("auth.forgot_password", "GET"): GET("public.sign_in", "/reset-password"),
    ("auth.forgot_password", "POST"): POST("public.sign_in", "/reset-password", ok=ANY, changes=False),
    ("auth.reset_password", "GET"): GET("public.token_link", f"/reset-password/{BAD_TOKEN}", ok=400),
    ("auth.reset_password", "POST"): POST(
        "public.token_link", f"/reset-password/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("auth.welcome", "GET"): GET("public.token_link", f"/welcome/{BAD_TOKEN}", ok=400),
    ("auth.welcome", "POST"): POST("public.token_link", f"/welcome/{BAD_TOKEN}", ok=400, changes=False),
    ("auth.verify_email", "GET"): GET("public.token_link", f"/verify/{BAD_TOKEN}", ok=400),
    ("auth.verify_email", "POST"): POST("public.token_link", f"/verify/{BAD_TOKEN}", ok=400, changes=False),
    ("auth.request_sign_in_link", "POST"): POST(
        "public.sign_in", "/sign-in/link", data={"link-email": "x@kommune.example"}, ok=ANY, changes=False
    ),
    ("auth.sign_in_by_link", "GET"): GET("public.token_link", f"/sign-in/link/{BAD_TOKEN}", ok=400),
    ("auth.sign_in_by_link", "POST"): POST(
        "public.token_link", f"/sign-in/link/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("auth.resend_verification", "GET"): GET("public.sign_in", "/verify"),
    ("auth.resend_verification", "POST"): POST("public.sign_in", "/verify", ok=ANY, changes=False),
    # The second factor (blueprints/auth/second_factor.py): nobody in the world has it on, so the code
    # page sends on (302), set-up has nothing waiting (302), new codes ask for the code (303) and
    # "off" is refused next to its field (422).
    ("auth.sign_in_code", "GET"): GET("second_factor.sign_in", "/sign-in/code", ok=(200, 302)),
    ("auth.sign_in_code", "POST"): POST(
        "second_factor.sign_in", "/sign-in/code", data={"code": "123456"}, ok=ANY, changes=False
    ),
    ("auth.two_factor", "GET"): GET("second_factor.manage", "/me/two-factor"),
    ("auth.two_factor_begin", "POST"): POST("second_factor.manage", "/me/two-factor/begin"),
    ("auth.two_factor_set_up", "GET"): GET("second_factor.manage", "/me/two-factor/set-up", ok=(200, 302)),
    ("auth.two_factor_set_up", "POST"): POST(
        "second_factor.manage", "/me/two-factor/set-up", data={"code": "123456"}, ok=ANY, changes=False
    ),
    ("auth.two_factor_recovery_codes", "POST"): POST(
        "second_factor.manage", "/me/two-factor/recovery-codes", changes=False
    ),
    ("auth.two_factor_off", "POST"): POST(
        "second_factor.manage",
        "/me/two-factor/off",
        data={"code": "123456", "replace": "no"},
        ok=ANY,
        changes=False,
    ),
    # Single sign-on: the world configures no provider, so any provider's name is not found (the
    # flow itself: tests/test_single_sign_on.py, against a real provider).
    ("auth.provider_sign_in", "POST"): POST("public.sign_in", "/sign-in/with/test", ok=404, changes=False),
    ("auth.provider_callback", "GET"): GET(
        "public.sign_in", "/sign-in/with/test/callback?state=x&code=y", ok=404
    ),
    ("auth.provider_unlink", "POST"): POST(
        "account.own", "/sign-in/with/test/unlink", changes=False, first="member"
    ),
    ("registration.register_page", "GET"): GET("public.register", "/register/", ok=(200, 302)),
    ("registration.register_page", "POST"): POST("public.register", "/register/", ok=ANY, changes=False),
    ("registration.check_field", "POST"): POST(
        "public.register", "/register/check/name", ok=200, changes=False
    ),
    ("registration.organisation_choices", "GET"): GET(
        "public.register", "/register/organisations?organisation_query=Bergen"
    ),
    ("registration.sent", "GET"): GET("public.register", "/register/sent"),
    ("anchorings.decide", "GET"): GET("public.token_link", f"/anchoring/{BAD_TOKEN}", ok=400),
    ("anchorings.decide", "POST"): POST(
        "public.token_link", f"/anchoring/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("account.confirm_email", "GET"): GET("public.token_link", f"/me/email/{BAD_TOKEN}", ok=400),
    ("account.confirm_email", "POST"): POST(
        "public.token_link", f"/me/email/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("meetings.acknowledge", "GET"): GET("public.token_link", f"/meetings/received/{BAD_TOKEN}", ok=400),
    ("meetings.acknowledge", "POST"): POST(
        "public.token_link", f"/meetings/received/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("meetings.calendar_feed", "GET"): GET(
        "public.token_link", f"/meetings/calendar/{BAD_TOKEN}.ics", ok=400
    ),
    ("newsletters.unsubscribe", "GET"): GET(
        "public.token_link", f"/newsletter/unsubscribe/{BAD_TOKEN}", ok=400
    ),
    ("newsletters.unsubscribe", "POST"): POST(
        "public.token_link", f"/newsletter/unsubscribe/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("newsletters.one_click", "GET"): GET(
        "public.token_link", f"/newsletter/unsubscribe/{BAD_TOKEN}/one-click", ok=400
    ),
    ("newsletters.one_click", "POST"): POST(
        "public.token_link", f"/newsletter/unsubscribe/{BAD_TOKEN}/one-click", ok=400, changes=False
    ),
    ("reviews.come_back", "GET"): GET("public.token_link", f"/reviews/back/{BAD_TOKEN}", ok=400),
    ("reviews.come_back", "POST"): POST(
        "public.token_link", f"/reviews/back/{BAD_TOKEN}", ok=400, changes=False
    ),
    ("reviews.answer", "GET"): GET("public.token_link", f"/reviews/answer/{BAD_TOKEN}", ok=400),
    ("reviews.answer", "POST"): POST(
        "public.token_link", f"/reviews/answer/{BAD_TOKEN}", ok=400, changes=False
    ),
    # -- the account ----------------------------------------------------------------------------------------
    ("account.index", "GET"): GET("account.own", "/me/"),
    ("account.edit", "GET"): GET("account.own", "/me/edit"),
    ("account.edit", "POST"): POST(
        "account.own",
        "/me/edit",
        data={
            "name": "Nytt Navn",
            "job_title": "Rådgiver",
            "unit": "Helse",
            "phone": "+47 22 00 00 00",
            "manager_name": "Leder Ny",
            "manager_email": "leder.ny@kommune.example",
        },
    ),
    # No box ticked: every network's newsletter stops (a coordinator with no membership has none to stop).
    ("account.newsletter", "POST"): POST("account.own", "/me/newsletter", data={}, first="member"),
    ("account.leave", "POST"): POST(
        "membership.leave",
        "/me/memberships/{owners_membership}/leave",
        "place",
        owner="owner",
        data={"reason": "Ny jobb"},
    ),
    ("account.ask_again", "POST"): POST("anchoring.ask_again", "/me/anchoring/ask-again", changes=False),
    ("account.export", "GET"): GET("account.own", "/me/export.json"),
    ("account.delete", "GET"): GET("account.own", "/me/delete"),
    ("account.delete", "POST"): POST(
        "account.own", "/me/delete", data={"password": PASSWORD}, ok=ANY, changes=False
    ),
    ("account.change_email", "GET"): GET("account.own", "/me/email"),
    ("account.change_email", "POST"): POST(
        "account.own",
        "/me/email",
        data={"new_email": "ny.adresse@kommune.example", "password": PASSWORD},
        ok=ANY,
        changes=False,
    ),
    ("directory.index", "GET"): GET("directory.read", "/directory/"),
    ("directory.visibility", "POST"): POST("account.own", "/directory/visibility", data={"hidden": "yes"}),
    ("reviews.take_me_back", "POST"): POST(
        "review.take_back", "/reviews/mine/{response}/restore", "network", owner="owner", changes=False
    ),
    # -- the municipality page ----------------------------------------------------------------------------
    ("municipalities.mine", "GET"): GET("account.own", "/municipality/", ok=302),
    ("municipalities.show", "GET"): GET("municipality.read", "/municipality/{bergen}", "place"),
    ("municipalities.report", "GET"): GET("change.report", "/municipality/{bergen}/NIK/report", "place"),
    ("municipalities.report", "POST"): POST(
        "change.report",
        "/municipality/{bergen}/NIK/report",
        "place",
        data={"action": "add", "email": "ny.kollega@4601.kommune.example", "name": "Ny Kollega"},
    ),
    ("municipalities.claim", "POST"): POST(
        "main_contact.claim", "/municipality/{bergen}/NIK/claim", "place", changes=False
    ),  # Bergen has a main contact: refused by the state
    ("municipalities.handover", "POST"): POST(
        "main_contact.offer",
        "/municipality/{bergen}/NIK/handover",
        "place",
        data={"colleague": "{members_membership}"},
    ),
    ("municipalities.answer_handover", "POST"): POST(
        "main_contact.answer", "/municipality/handovers/{handover}/decline", "place", owner="owner"
    ),
    ("municipalities.invite", "POST"): POST(
        "main_contact.invite",
        "/municipality/{bergen}/NIK/invite",
        "place",
        data={"email": "invitert@4601.kommune.example"},
    ),
    ("municipalities.assign", "POST"): POST(
        "main_contact.assign", "/municipality/{bergen}/NIK/assign/{owners_membership}", "place"
    ),
    ("municipalities.remove", "POST"): POST(
        "main_contact.remove",
        "/municipality/{bergen}/NIK/remove",
        "place",
        data={"membership": "{main_contacts_membership}"},
    ),
    # -- meetings and topics --------------------------------------------------------------------------------
    ("meetings.year_plan", "GET"): GET("plan.read", "/meetings/plan/NIK/2027", "network"),
    ("meetings.new", "GET"): GET("meeting.plan", "/meetings/new"),
    ("meetings.new", "POST"): POST(
        "meeting.plan",
        "/meetings/new",
        data={
            "kind": "professional_meeting",
            "networks": "NIK",
            "title": "Nytt fagmøte",
            "format": "digital",
            "date": SOON.isoformat(),
            "start": "10:00",
            "end": "11:00",
        },
    ),
    ("meetings.show", "GET"): GET("meeting.read", "/meetings/{meeting}", "network"),
    ("meetings.calendar_file", "GET"): GET("meeting.read", "/meetings/{meeting}.ics", "network"),
    ("meetings.sign_up", "POST"): POST(
        "meeting.sign_up", "/meetings/{meeting}/signup", "network", first="member"
    ),
    ("meetings.withdraw", "POST"): POST("meeting.sign_up", "/meetings/{meeting}/withdraw", "network"),
    ("meetings.edit", "GET"): GET("meeting.edit", "/meetings/{meeting}/edit", "network"),
    ("meetings.edit", "POST"): POST(
        "meeting.edit",
        "/meetings/{meeting}/edit",
        "network",
        data={
            "title": "Fagmøte, endret",
            "format": "digital",
            "date": SOON.isoformat(),
            "start": "12:00",
            "end": "13:00",
            "version": "{meeting_version}",
        },
    ),
    ("meetings.cancel", "GET"): GET("meeting.cancel", "/meetings/{meeting}/cancel", "network"),
    ("meetings.cancel", "POST"): POST("meeting.cancel", "/meetings/{meeting}/cancel", "network"),
    ("meetings.attendance", "POST"): POST(
        "meeting.attendance", "/meetings/{meeting}/attendance", "network", changes=False
    ),  # a meeting ahead: refused by the state
    ("meetings.minutes", "POST"): POST(
        "meeting.minutes",
        "/meetings/{meeting}/minutes",
        "network",
        data={"minutes": "Referat"},
        changes=False,
    ),  # likewise
    ("meetings.acknowledgements", "GET"): GET(
        "call_in.follow", "/meetings/{call_in}/acknowledgements", "network"
    ),
    ("meetings.remind_unacknowledged", "POST"): POST(
        "call_in.remind", "/meetings/{call_in}/acknowledgements/remind", "network"
    ),
    ("topics.propose", "POST"): POST(
        "topic.propose",
        "/meetings/plan/NIK/topics",
        "network",
        data={"title": "Nytt tema", "meeting_kind": "professional_meeting"},
    ),
    ("topics.support", "POST"): POST(
        "topic.support", "/meetings/topics/{proposal}/support", "network", owner="owner"
    ),
    ("topics.decide", "POST"): POST(
        "topic.decide",
        "/meetings/topics/{proposal}/decline",
        "network",
        owner="owner",
        data={"reason": "Ikke i år"},
    ),
    # -- coordinators -----------------------------------------------------------------------------------
    ("coordinator.index", "GET"): GET("coordinator.home", "/coordinator/"),
    ("coordinator.outbox", "GET"): GET("outbox.read", "/coordinator/outbox"),
    ("coordinator.retry", "POST"): POST("outbox.retry", "/coordinator/outbox/{message}/retry", "network"),
    ("coordinator.audit_log", "GET"): GET("audit.read", "/coordinator/audit"),
    ("coordinator.audit_log", "POST"): POST(
        "audit.read", "/coordinator/audit", data={"q": "Deltaker"}, ok=(200, 303, 422), changes=False
    ),
    ("coordinator.coordinators", "GET"): GET("coordinator.appoint", "/coordinator/coordinators"),
    ("coordinator.coordinators", "POST"): POST(
        "coordinator.appoint",
        "/coordinator/coordinators",
        data={"email": "ny.koordinator@helsedir.example", "name": "Ny Koordinator", "network": "NIK"},
    ),
    ("coordinator.change_requests", "GET"): GET("change.decide", "/coordinator/change-requests"),
    ("coordinator.decide_change", "POST"): POST(
        "change.decide",
        "/coordinator/change-requests/{change}/reject",
        "place",
        data={"note": "Feil adresse"},
    ),
    ("coordinator.overview", "GET"): GET("overview.read", "/coordinator/overview?network=NIK"),
    ("coordinator.export", "GET"): GET("overview.read", "/coordinator/overview/members.xlsx?network=NIK"),
    ("coordinator.teams", "GET"): GET("teams.manage", "/coordinator/teams/NIK", "network"),
    ("coordinator.teams_addresses", "GET"): GET(
        "teams.manage", "/coordinator/teams/NIK/to-invite.txt", "network"
    ),
    ("coordinator.teams_mark", "POST"): POST(
        "teams.manage",
        "/coordinator/teams/NIK/invited",
        "network",
        data={"membership": "{owners_membership}"},
    ),
    ("coordinator.teams_channel", "POST"): POST(
        "teams.manage", "/coordinator/teams/NIK/channel", "network", data={"url": ""}
    ),
    ("organisations.manage", "GET"): GET("organisation.manage", "/organisations/manage"),
    ("organisations.manage", "POST"): POST(
        "organisation.manage",
        "/organisations/manage",
        data={"kind": "voluntary_organisation", "name": "Frivillig Forening"},
    ),
    ("organisations.edit", "GET"): GET("organisation.manage", "/organisations/{observer}/edit"),
    ("organisations.edit", "POST"): POST(
        "organisation.manage",
        "/organisations/{observer}/edit",
        data={"kind": "observer", "name": "Folkehelseinstituttet, endret", "short_name": "FHI"},
    ),
    ("organisations.written_form", "GET"): GET(
        "organisation.manage", "/organisations/{unused_organisation}/written-form"
    ),
    ("organisations.written_form", "POST"): POST(
        "organisation.manage",
        "/organisations/{unused_organisation}/written-form",
        data={"language_decision": "nn"},
    ),
    ("organisations.set_active", "POST"): POST(
        "organisation.manage", "/organisations/{unused_organisation}/deactivate"
    ),
    ("anchorings.pending", "GET"): GET("anchoring.list", "/anchoring/pending"),
    ("anchorings.record", "POST"): POST(
        "anchoring.record",
        "/anchoring/{anchoring}/record",
        "place",
        owner="pending_anchoring",
        data={"reason": "Bekreftet på telefon av leder"},
    ),
    # -- the yearly review and the mandate ----------------------------------------------------------------------
    ("reviews.index", "GET"): GET("review.read", "/reviews/NIK/", "network"),
    ("reviews.new", "GET"): GET("review.open", "/reviews/NIK/new", "network"),
    ("reviews.new", "POST"): POST(
        "review.open",
        "/reviews/NIK/new",
        "network",
        data={"year": str(SOON.year), "deadline": LATER.isoformat(), "remind_on": SOON.isoformat()},
        ok=(200, 422),
        changes=False,
    ),  # the preview; a second cycle in a year is the state's refusal
    ("reviews.cycle", "GET"): GET("review.read", "/reviews/cycle/{review}", "network"),
    ("reviews.report", "GET"): GET("review.read", "/reviews/cycle/{review}/report", "network"),
    ("reviews.export", "GET"): GET("review.read", "/reviews/cycle/{review}/export.csv", "network"),
    ("reviews.close", "GET"): GET("review.close", "/reviews/cycle/{review}/close", "network"),
    ("reviews.close", "POST"): POST("review.close", "/reviews/cycle/{review}/close", "network"),
    ("reviews.restore", "POST"): POST(
        "review.restore", "/reviews/response/{response}/restore", "network", owner="owner", changes=False
    ),  # not lapsed: refused by the state
    ("reviews.new_mandate", "GET"): GET("mandate.record", "/mandate/NIK/new", "network"),
    ("reviews.new_mandate", "POST"): POST(
        "mandate.record",
        "/mandate/NIK/new",
        "network",
        data={"text": "Nettverket skal dele kunnskap.", "effective_on": SOON.isoformat()},
    ),
    # -- newsletters -------------------------------------------------------------------------------------
    ("newsletters.submit_input", "GET"): GET("news_input.mine", "/newsletter/input"),
    ("newsletters.submit_input", "POST"): POST(
        "news_input.submit",
        "/newsletter/input",
        data={"network": "NIK", "title": "Kurs i Bergen", "body": "Et kurs om helse."},
    ),
    ("newsletters.archive", "GET"): GET("newsletter.archive", "/newsletter/"),
    ("newsletters.show", "GET"): GET("newsletter.preview", "/newsletter/{newsletter}", "network"),
    ("newsletters.queue", "GET"): GET("newsletter.queue", "/newsletter/queue"),
    ("newsletters.edit_input", "GET"): GET(
        "news_input.handle", "/newsletter/input/{news_input}/edit", "network", owner="owner"
    ),
    ("newsletters.edit_input", "POST"): POST(
        "news_input.handle",
        "/newsletter/input/{news_input}/edit",
        "network",
        owner="owner",
        data={"title": "Kurs, endret", "body": "Tekst."},
    ),
    ("newsletters.include", "POST"): POST(
        "news_input.handle",
        "/newsletter/input/{news_input}/include",
        "network",
        owner="owner",
        data={"newsletter": "{newsletter}"},
    ),
    ("newsletters.decline", "POST"): POST(
        "news_input.handle",
        "/newsletter/input/{news_input}/decline",
        "network",
        owner="owner",
        data={"note": "Passer ikke nå"},
    ),
    ("newsletters.withdraw", "POST"): POST(
        "news_input.handle",
        "/newsletter/input/{news_input}/withdraw",
        "network",
        owner="owner",
        changes=False,
    ),  # not included: refused by the state
    ("newsletters.new", "GET"): GET("newsletter.compose", "/newsletter/new"),
    ("newsletters.new", "POST"): POST(
        "newsletter.compose",
        "/newsletter/new",
        data={"title": "Nytt nummer", "body": "Hei", "networks": "NIK"},
    ),
    ("newsletters.edit", "GET"): GET("newsletter.edit", "/newsletter/{newsletter}/edit", "network"),
    ("newsletters.edit", "POST"): POST(
        "newsletter.edit",
        "/newsletter/{newsletter}/edit",
        "network",
        data={"title": "Nytt fra NIK, endret", "body": "Hei igjen", "networks": "NIK"},
    ),
    ("newsletters.send_test", "POST"): POST(
        "newsletter.send_test", "/newsletter/{newsletter}/test", "network"
    ),
    ("newsletters.send", "POST"): POST("newsletter.send", "/newsletter/{newsletter}/send", "network"),
    # -- requests for advice ---------------------------------------------------------------------------------
    ("advice.index", "GET"): GET("advice.list", "/advice/"),
    ("advice.new", "GET"): GET("advice.post", "/advice/new"),
    ("advice.new", "POST"): POST(
        "advice.post",
        "/advice/new",
        data={
            "title": "Høring",
            "body": "Les og svar",
            "networks": "NIK",
            "deadline": LATER.isoformat(),
            "remind_on": SOON.isoformat(),
        },
    ),
    ("advice.show", "GET"): GET("advice.read", "/advice/{advice}", "network"),
    ("advice.show", "POST"): POST("advice.answer", "/advice/{advice}", "network", data={"body": "Mitt råd"}),
    ("advice.answers", "GET"): GET("advice.answers", "/advice/{advice}/answers", "network"),
    ("advice.export", "GET"): GET("advice.answers", "/advice/{advice}/answers.csv", "network"),
    # -- emergencies: the listening post ------------------------------------------------------------------------
    ("emergencies.index", "GET"): GET("emergency.list", "/emergencies/"),
    ("emergencies.new", "GET"): GET("emergency.open", "/emergencies/new"),
    ("emergencies.new", "POST"): POST(
        "emergency.open", "/emergencies/new", data={"title": "Flom", "networks": ["NIK"]}
    ),
    ("emergencies.show", "GET"): GET("emergency.read", "/emergencies/{emergency}", "network"),
    ("emergencies.report_signal", "GET"): GET(
        "signal.report", "/emergencies/{emergency}/signals/new", "network"
    ),
    ("emergencies.report_signal", "POST"): POST(
        "signal.report",
        "/emergencies/{emergency}/signals/new",
        "network",
        data={"kind": "rumour", "urgency": "soon", "text": "Et rykte om vaksinen", "languages": ["ar"]},
    ),
    ("emergencies.own_signal", "GET"): GET(
        "signal.own", "/emergencies/signals/{signal}", "network", owner="owner"
    ),
    ("emergencies.close", "POST"): POST("emergency.manage", "/emergencies/{emergency}/close", "network"),
    # the situation board (blueprints/emergencies/board.py)
    ("emergencies.board", "GET"): GET("board.read", "/emergencies/{emergency}/board", "network"),
    ("emergencies.board_signal", "GET"): GET("board.read", "/emergencies/board/signals/{signal}", "network"),
    ("emergencies.handle_signal", "POST"): POST(
        "signal.handle",
        "/emergencies/board/signals/{signal}/handle",
        "network",
        data={"status": "followed_up", "note": "Kommunen er varslet"},
    ),
    ("emergencies.merge_signal", "POST"): POST(
        "signal.handle",
        "/emergencies/board/signals/{signal}/merge",
        "network",
        data={"into": "{other_signal}"},
    ),
    ("emergencies.reply_signal", "POST"): POST(
        "signal.reply",
        "/emergencies/board/signals/{signal}/reply",
        "network",
        data={"body": "Takk, vi følger det opp."},
    ),
    # packages: observers' members pass the policy; the world's emergency does not let them post (422)
    ("emergencies.new_package", "GET"): GET(
        "package.post", "/emergencies/{emergency}/packages/new", "network"
    ),
    ("emergencies.new_package", "POST"): POST(
        "package.post",
        "/emergencies/{emergency}/packages/new",
        "network",
        data={
            "title": "Vaksine på mange språk",
            "purpose": "Til helsestasjonene",
            "links-0-url": "https://www.fhi.no/ar/vaksine",
            "links-0-language": "ar",
            "links-0-source": "FHI",
        },
    ),
    ("emergencies.package", "GET"): GET("package.read", "/emergencies/packages/{package}", "network"),
    ("emergencies.share_package", "POST"): POST(
        "package.share", "/emergencies/packages/{package}/share", "network", data={"note": "Helsestasjonen"}
    ),
    ("emergencies.situation_report", "GET"): GET(
        "situation.report", "/emergencies/{emergency}/report", "network"
    ),
    ("emergencies.situation_report_export", "GET"): GET(
        "situation.report", "/emergencies/{emergency}/report.csv", "network"
    ),
    ("emergencies.situation_summary", "GET"): GET(
        "situation.report", "/emergencies/{emergency}/report.txt", "network"
    ),
}


def roles_in(persona, row):
    roles = set(PERSONA_ROLES[persona][row.kind])
    if row.owner == persona:
        roles.add(OWNER)
    return roles


def allowed(persona, row):
    return POLICY[row.action].admits(roles_in(persona, row))


def expected(persona, row):
    """What the persona gets: the row's success status, the sign-in page, or 403."""
    if allowed(persona, row):
        return row.ok
    return "login" if persona in CANNOT_SIGN_IN else 403


# The shape the accessibility test reads (tests/browser): endpoint → (method, url, {role: expected},
# default), the GET row where there is one.  Its roles are one persona per kind of page: a lapsed
# or left member, an observer, an owner or a member elsewhere get the pages a member, or a member
# not yet confirmed, gets (in a browser each role costs a minute).
ROLES = ("anonymous", "pending_anchoring", "member", "main_contact", "coordinator_elsewhere", "coordinator")
TABLE = {}
for (_endpoint, _method), _row in sorted(MATRIX.items(), key=lambda item: item[0][1] != "GET"):
    if _endpoint not in TABLE:
        TABLE[_endpoint] = (_method, _row.url, {p: expected(p, _row) for p in ROLES}, 403)


# -- the world ------------------------------------------------------------------------------------------


def build_world(create_member, create_coordinator, municipality):
    """One of each object an action works on, and one account per persona, committed."""
    from models import (
        ChangeRequest,
        Network,
        OutboxStatus,
        Package,
        PackageLink,
        ReviewResponse,
        TopicProposal,
        advice,
        main_contact,
    )
    from models import emergency as emergencies
    from models import meeting as meetings
    from models import newsletter as newsletters
    from models import review as reviews
    from models import signal as signals
    from models import signup as signups

    bergen, oslo = municipality("4601"), municipality("0301")
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    unused = Organisation.add_by_coordinator("voluntary_organisation", "Frivillig Hjelp", None)
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    people = {
        "pending_verification": create_member(bergen, status="pending_email"),
        "pending_anchoring": create_member(bergen, status="pending_anchoring"),
        "member": create_member(bergen),
        "lapsed": create_member(bergen, status="lapsed"),
        "left": create_member(bergen, status="left"),
        "observer": create_member(fhi),
        "owner": create_member(bergen),
        "member_elsewhere": create_member(oslo),
        "main_contact": create_member(bergen),
        "main_contact_elsewhere": create_member(oslo),
        "coordinator_elsewhere": create_coordinator("NIFS", "NONEMI"),
        "coordinator": create_coordinator("NIK"),
    }
    anchoring = people["pending_anchoring"].request_anchoring()
    for role in ("main_contact", "main_contact_elsewhere"):
        people[role].memberships[0].make_main_contact()
    db.session.flush()
    owner = people["owner"]
    handover = main_contact.offer(people["main_contact"].memberships[0], owner.memberships[0])
    change = ChangeRequest(
        organisation=bergen, network=nik, action="remove", email=owner.email, reported_by=people["member"]
    )
    db.session.add(change)
    soon = datetime.now(UTC) + timedelta(days=3)
    meeting = meetings.plan(
        [nik],
        kind="professional_meeting",
        title="Fagmøte",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
    )
    call_in = meetings.plan(
        [nik],
        kind="emergency",
        title="Beredskap",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
    )
    signups.sign_up(people["coordinator"], meeting)
    proposal = TopicProposal(
        network=nik, proposed_by=owner, title="Tema", meeting_kind="professional_meeting"
    )
    db.session.add(proposal)
    message = outbox.queue(owner.email, "Test", "reset_password", member=owner, url="http://localhost/")
    message.status = OutboxStatus.FAILED
    nik.teams_webhook_url = "https://example.webhook.office.com/webhookb2/nik"
    review = reviews.open_cycle(nik, soon.year, soon + timedelta(days=21), soon + timedelta(days=14))
    news_input = newsletters.submit(owner, nik, "Kurs", "Et kurs i Bergen.")
    draft = newsletters.create("Nytt fra NIK", "Hei alle", [nik], by=people["coordinator"])
    request, _count = advice.post(
        "Veileder",
        "Les og svar",
        None,
        [nik],
        soon + timedelta(days=21),
        soon + timedelta(days=14),
        by=people["coordinator"],
    )
    emergency = emergencies.open_emergency([nik], "Utbrudd", "Et utbrudd", by=people["coordinator"])
    signal = signals.report(emergency, owner, "rumour", "soon", "Et rykte om vaksinen", ["ar"], bergen)
    # another signal of the emergency, for the board's merge (the world's signal merged into it)
    other_signal = signals.report(
        emergency,
        people["member_elsewhere"],
        "information_need",
        "urgent",
        "Trenger informasjon på somali",
        ["so"],
        oslo,
    )
    package = Package(emergency_id=emergency.id, title="Vaksineinformasjon", purpose="Til kommunene")
    package.links = [
        PackageLink(url="https://www.helsenorge.no/ar/", language_code="ar", source="Helsenorge")
    ]
    db.session.add(package)
    db.session.commit()
    response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=review.id, member_id=owner.id))
    ids = {
        "anchoring": anchoring.id,
        "owners_membership": owner.memberships[0].id,
        "members_membership": people["member"].memberships[0].id,
        "main_contacts_membership": people["main_contact"].memberships[0].id,
        "message": message.id,
        "bergen": bergen.id,
        "unused_organisation": unused.id,
        "handover": handover.id,
        "change": change.id,
        "observer": fhi.id,
        "meeting": meeting.id,
        "meeting_version": meeting.sequence,
        "call_in": call_in.id,
        "proposal": proposal.id,
        "review": review.id,
        "response": response.id,
        "news_input": news_input.id,
        "newsletter": draft.id,
        "advice": request.id,
        "emergency": emergency.id,
        "signal": signal.id,
        "other_signal": other_signal.id,
        "package": package.id,
    }
    return people, ids


class World:
    """The world's rows and each persona's signed-in cookie, taken once: each later test puts the
    rows back (one INSERT per table) and the cookies into new clients, instead of building and
    signing in again (the cookies stay valid: the members' session keys come back with the rows)."""

    rows = ids = people = cookies = tokens = None

    @classmethod
    def take(cls, app, people, ids):
        cls.ids, cls.people = ids, {persona: member.id for persona, member in people.items()}
        cls.cookies, cls.tokens = {}, {}
        name = app.config["SESSION_COOKIE_NAME"]
        for persona in PERSONAS:
            client = signed_in(app, people, persona)
            cls.tokens[persona] = csrf_token_from(client.get("/privacy"))
            cookie = client.get_cookie(name)
            cls.cookies[persona] = cookie.value if cookie else None
        cls.rows = take_rows()

    @classmethod
    def restore(cls):
        reset_to(cls.rows)


def client_of(app, persona):
    """A new client signed in as ``persona`` (the cookie of the world's sign-in), and its CSRF token."""
    client = app.test_client()
    if World.cookies[persona]:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], World.cookies[persona])
    return client, World.tokens[persona]


def signed_in(app, people, role):
    client = app.test_client()
    if role == "anonymous":
        return client
    response = sign_in(client, people[role].email)
    assert (response.status_code == 303) == (role not in CANNOT_SIGN_IN), (role, response.status_code)
    return client
