"""Rate limits keyed on the account and on the client's address, so that a stranger cannot lock
the owner out, and budgets for every action that sends mail on someone's behalf.

The counters live in Flask-Limiter's storage (``RATELIMIT_STORAGE_URI``: Redis in production,
so every worker sees the same counts; memory in development and tests) and obey
``RATELIMIT_ENABLED``.  The client's address is ``request.remote_addr``, which is the real
client's only when ``TRUSTED_PROXIES`` says how many proxies stand in front (``ProxyFix``).

Signing in (``auth.sign_in``) counts failures only – a successful sign-in costs nothing – in
three budgets; when any is spent, the password is not even checked:

- per client address: 30 a minute, 300 a day (one machine guessing many accounts);
- per account *and* client address: 10 in 15 minutes (guessing one account from one machine);
  a stranger elsewhere spends their own budget, not the owner's;
- per account from everywhere: 50 an hour (guessing one account from many machines).  This one
  a stranger can spend; the owner then gets in by "Forgot your password?": the reset link
  signs them in, and the reset flow counts nothing against the account.

Mails to an address that anyone can ask for (a reset link, a sign-in link, a new confirmation link) go at most
3 an hour and 10 a day to one address; past that the page answers as always and sends nothing
(the owner has the links already sent, each good until used or expired).

A signed-in member's requests that send mail (``ON_BEHALF``, below) spend the member's budget
(30 an hour, 200 a day, across all of them) once they succeed (any answer under 400: a refused
form costs nothing); those that mail an address the member types in spend a stricter one too.
When a budget is spent the request is refused with 429 before it does anything.
"""

from flask import abort, request
from flask_login import current_user
from limits import parse

from extensions import limiter


class Budget:
    """A named set of limits ("10 per 15 minutes", …) counted per key."""

    def __init__(self, name, *limits):
        self.name = name
        self.limits = [parse(limit) for limit in limits]

    def _args(self, key):
        # Keys are addresses and e-mail addresses: the storage (Redis) holds only a keyed digest.
        from models.tokens import fingerprint

        return [self.name, fingerprint("rate-limit", key)]

    def allows(self, key):
        """Is there room for one more?  (Counts nothing.)"""
        if not _active():
            return True
        return _counted(lambda counters: all(counters.test(limit, *self._args(key)) for limit in self.limits))

    def spend(self, key):
        if _active():
            _counted(lambda counters: [counters.hit(limit, *self._args(key)) for limit in self.limits])


def _active():
    return limiter.enabled and limiter.initialized


def _counted(work):
    """``work(counters)`` on the limiter's counters.  If the storage (Redis) does not answer, the
    limiter is switched to its in-memory fallback – as Flask-Limiter does itself when a limit of
    its own hits the dead storage first, with the same one warning – and the work is done there.
    Flask-Limiter finds the storage again by itself (it checks it on later requests)."""
    try:
        return work(limiter.limiter)
    except Exception:  # the storage library's own errors (redis.ConnectionError, TimeoutError, …)
        if not limiter._in_memory_fallback_enabled or limiter._storage_dead:
            raise
        limiter.logger.warning("Rate limit storage unreachable - falling back to in-memory storage")
        limiter._storage_dead = True  # Flask-Limiter's own switch (no public way to flip it)
        return work(limiter.limiter)


def client_address():
    return request.remote_addr or "unknown"


# -- signing in --------------------------------------------------------------------------------

SIGN_IN_CLIENT = Budget("sign-in:client", "30 per minute", "300 per day")
SIGN_IN_ACCOUNT_CLIENT = Budget("sign-in:account+client", "10 per 15 minutes")
SIGN_IN_ACCOUNT = Budget("sign-in:account", "50 per hour")


def _sign_in_keys(email):
    client = client_address()
    return ((SIGN_IN_CLIENT, client), (SIGN_IN_ACCOUNT_CLIENT, f"{email}|{client}"), (SIGN_IN_ACCOUNT, email))


def sign_in_allowed(email):
    """May this client try a password for this address now?"""
    return all(budget.allows(key) for budget, key in _sign_in_keys(email))


def sign_in_failed(email):
    """A wrong password (or an address nobody has): counted in every sign-in budget."""
    for budget, key in _sign_in_keys(email):
        budget.spend(key)


# -- mail anyone can ask to be sent to an address ----------------------------------------------

MAIL_TO_ADDRESS = {
    "reset": Budget("mail:reset", "3 per hour", "10 per day"),
    "verify": Budget("mail:verify", "3 per hour", "10 per day"),
    "link": Budget("mail:sign-in-link", "3 per hour", "10 per day"),
}


def may_mail_address(kind, email):
    """Room for one more ``kind`` mail to ``email``?  Spends it if so."""
    budget = MAIL_TO_ADDRESS[kind]
    if not budget.allows(email):
        return False
    budget.spend(email)
    return True


# -- mail a signed-in member's actions send ------------------------------------------------------

MEMBER_MAIL = Budget("mail:member", "30 per hour", "200 per day")
# Mail to an address the member types in (anyone's): invitations with free text, a new line
# manager, a new own address.
MEMBER_MAIL_TO_TYPED_ADDRESS = Budget("mail:member-typed-address", "20 per day")

# Every POST endpoint that queues mail (or a Teams post) on a signed-in member's behalf, and
# whom it mails.  ``tests/test_sign_in_limits.py`` fails on a POST endpoint in neither this
# table nor its list of endpoints that send no mail for a signed-in member.
ON_BEHALF = {
    "municipalities.invite": (
        "anyone: an invitation with the main contact's own text",
        MEMBER_MAIL_TO_TYPED_ADDRESS,
    ),
    "account.edit": ("a new line manager: asked to confirm", MEMBER_MAIL_TO_TYPED_ADDRESS),
    "account.change_email": ("the new address: a link to confirm it", MEMBER_MAIL_TO_TYPED_ADDRESS),
    "account.ask_again": ("the line manager: asked again after a decline", None),
    "municipalities.handover": ("a colleague: the main-contact role offered", None),
    "municipalities.answer_handover": ("the previous main contact: the answer", None),
    "municipalities.claim": ("the coordinators: a main contact claimed", None),
    "municipalities.assign": ("the member made main contact", None),
    "municipalities.remove": ("the member removed, the coordinators", None),
    "municipalities.report": ("the coordinators: a change reported", None),
    "topics.decide": ("the proposer: the decision", None),
    "meetings.new": ("the network: an emergency meeting's call-in", None),
    "meetings.edit": ("those signed up: the meeting moved", None),
    "meetings.cancel": ("those signed up: the meeting cancelled", None),
    "meetings.sign_up": ("the member: the calendar invitation", None),
    "meetings.remind_unacknowledged": ("those who have not acknowledged a call-in: a reminder", None),
    "reviews.new": ("the network: the yearly review opened", None),
    "advice.new": ("the networks: a request for advice", None),
    "emergencies.new_package": ("the emergency's networks: an information package", None),
    "emergencies.reply_signal": ("the reporter: a coordinator's reply to their signal", None),
    "newsletters.send_test": ("the coordinator: a test copy", None),
    "newsletters.send": ("the network: the newsletter", None),
    "newsletters.include": ("the author: input taken", None),
    "newsletters.decline": ("the author: input declined", None),
    "anchorings.record": ("the member: an anchoring recorded", None),
    "coordinator.coordinators": ("the new coordinator", None),
    "coordinator.decide_change": (
        "the reporter: the change decided; an address to add: the invitation; a new address: its link",
        None,
    ),
    "coordinator.retry": ("a failed mail sent again", None),
}


def _budgets_for(endpoint):
    if request.method != "POST" or endpoint not in ON_BEHALF or not current_user.is_authenticated:
        return ()
    extra = ON_BEHALF[endpoint][1]
    return (MEMBER_MAIL,) if extra is None else (MEMBER_MAIL, extra)


def check_member_mail():
    """Before a request: refuse (429) a mail-sending action whose member's budget is spent."""
    for budget in _budgets_for(request.endpoint):
        if not budget.allows(current_user.id):
            abort(429)


def count_member_mail(response):
    """After a request: a mail-sending action that succeeded spends the member's budget."""
    if response.status_code < 400:
        for budget in _budgets_for(request.endpoint):
            budget.spend(current_user.id)
    return response


def init_app(app):
    app.before_request(check_member_mail)
    app.after_request(count_member_mail)
