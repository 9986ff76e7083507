"""A user's second step: their authenticator (a TOTP secret, kept only once a code from it
has been typed) and their recovery codes; checking a code, turning it off, resetting it.

A TOTP code is accepted once: the time step it belongs to must be later than the last one
accepted, moved forward with one conditional UPDATE, so two requests with the same code
cannot both pass. A recovery code is hashed as a password is and marked used the same way.
Checks here are not throttled on their own: callers run them under
`services.sign_in.under_throttle`, with the password's counters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash

from dashboard.extensions import db
from dashboard.models import RecoveryCode, TwoFactorCredential, User, utcnow
from dashboard.services import sessions
from dashboard.services.two_factor import codes, encryption, pending
from dashboard.services.two_factor.encryption import Purpose

log = logging.getLogger(__name__)

# How long a set-up page stays usable: time to install an app and scan.
ENROLMENT_MAX_AGE = 15 * 60


class TwoFactorError(ValueError):
    """A request about two-step sign-in that cannot be done; the message says why."""


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # not the code of any step near now
    REPLAYED = "replayed"  # the code of a step already used
    RECOVERY_WRONG = "recovery_wrong"  # no unused recovery code of this user
    UNREADABLE = "unreadable"  # the stored secret does not open with this SECRET_KEY
    NOT_SET_UP = "not_set_up"


@dataclass(frozen=True)
class Check:
    """The answer to a typed code; `recovery_left` after a recovery code was accepted."""

    verdict: Verdict
    used_recovery: bool = False
    recovery_left: int = 0

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@dataclass(frozen=True)
class Status:
    enabled_at: datetime
    recovery_left: int


@dataclass(frozen=True)
class Enrolment:
    """A set-up in progress: the new secret, shown; and `token`, the form's sealed copy of
    it (nothing is stored until a code from it is typed)."""

    secret: str
    uri: str
    token: str

    @property
    def qr_svg(self) -> str:
        return codes.qr_svg(self.uri)

    @property
    def grouped_secret(self) -> str:
        return codes.grouped(self.secret)


def status(user: User) -> Status | None:
    """Whether the user has a second step, since when, and how many recovery codes are left."""
    credential = db.session.get(TwoFactorCredential, user.id)
    if credential is None:
        return None
    return Status(enabled_at=credential.enabled_at, recovery_left=_recovery_left(user))


def has_second_factor(user: User) -> bool:
    return db.session.get(TwoFactorCredential, user.id) is not None


def users_with_second_factor() -> set[int]:
    return set(db.session.scalars(select(TwoFactorCredential.user_id)))


def start_enrolment(user: User) -> Enrolment:
    secret = codes.new_secret()
    token = encryption.seal(Purpose.ENROLMENT, f"{user.id}:{secret}")
    return Enrolment(secret=secret, uri=codes.provisioning_uri(secret, user.email), token=token)


def enrolment_from(user: User, token: str) -> Enrolment:
    """The set-up this form's token carries, for this user; TwoFactorError if it is not one."""
    try:
        plain = encryption.unseal(Purpose.ENROLMENT, token, max_age=ENROLMENT_MAX_AGE)
    except encryption.Expired as error:
        raise TwoFactorError(
            "This set-up page is more than 15 minutes old: its key is no longer accepted. "
            "Start again with the new QR code below (remove the old entry from your app)."
        ) from error
    except encryption.Unreadable as error:
        raise TwoFactorError("This set-up form was not made for you here: start again.") from error
    user_id, _, secret = plain.partition(":")
    if user_id != str(user.id) or not secret:
        raise TwoFactorError("This set-up form was not made for you here: start again.")
    return Enrolment(secret=secret, uri=codes.provisioning_uri(secret, user.email), token=token)


def confirm_enrolment(user: User, enrolment: Enrolment, code: str) -> list[str]:
    """Keep the secret once `code` is one of its codes: two-step sign-in is on. Returns the
    new recovery codes, to be shown once (only their hashes are kept)."""
    typed = codes.read_code(code)
    step = (
        codes.matching_step(enrolment.secret, typed.value, utcnow())
        if typed is not None and typed.kind is codes.Kind.TOTP
        else None
    )
    if step is None:
        raise TwoFactorError(
            "That is not the code your app shows for this key. Check that your phone sets "
            "its time automatically, then type the 6 digits showing now."
        )
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    # Another tab may have finished a set-up meanwhile: the primary key decides, the
    # second insert does nothing and is told so.
    added = db.session.scalar(
        insert(TwoFactorCredential)
        .values(
            user_id=user.id,
            secret_ciphertext=encryption.seal(Purpose.STORED_SECRET, enrolment.secret),
            last_used_step=step,
            enabled_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
        .returning(TwoFactorCredential.user_id)
    )
    if added is None:
        raise TwoFactorError("Two-step sign-in is already on for your account.")
    log.info("two-step sign-in turned on", extra={"user_id": user.id})
    return _replace_recovery_codes(user)


def check(user: User, text: str) -> Check:
    """A code typed at the second step: TOTP or recovery code, accepted at most once."""
    typed = codes.read_code(text)
    if typed is None:
        return Check(Verdict.WRONG)
    if typed.kind is codes.Kind.RECOVERY:
        return _use_recovery_code(user, typed.value)
    return Check(_accept_totp(user, typed.value))


def _accept_totp(user: User, code: str) -> Verdict:
    credential = db.session.get(TwoFactorCredential, user.id)
    if credential is None:
        return Verdict.NOT_SET_UP
    try:
        secret = encryption.unseal(Purpose.STORED_SECRET, credential.secret_ciphertext)
    except encryption.Unreadable:
        log.error("two-step secret unreadable with this SECRET_KEY", extra={"user_id": user.id})
        return Verdict.UNREADABLE
    step = codes.matching_step(secret, code, utcnow())
    if step is None:
        log.info("two-step code wrong", extra={"user_id": user.id})
        return Verdict.WRONG
    moved = db.session.scalar(
        update(TwoFactorCredential)
        .where(TwoFactorCredential.user_id == user.id, TwoFactorCredential.last_used_step < step)
        .values(last_used_step=step)
        .returning(TwoFactorCredential.user_id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        log.info("two-step code replayed", extra={"user_id": user.id})
        return Verdict.REPLAYED
    return Verdict.ACCEPTED


def _use_recovery_code(user: User, plain: str) -> Check:
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for row in unused:
        if check_password_hash(row.code_hash, plain):
            marked = db.session.scalar(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .returning(RecoveryCode.id)
                .execution_options(synchronize_session=False)
            )
            if marked is None:  # used by a request that ran alongside this one
                break
            left = _recovery_left(user)
            log.info("recovery code used", extra={"user_id": user.id, "left": left})
            return Check(Verdict.ACCEPTED, used_recovery=True, recovery_left=left)
    log.info("recovery code wrong", extra={"user_id": user.id})
    return Check(Verdict.RECOVERY_WRONG)


def confirm_identity(user: User, text: str) -> Check:
    """The password, or a current code from the app (not a recovery code): asked before
    turning the second step off or making new recovery codes."""
    typed = codes.read_code(text)
    if typed is not None and typed.kind is codes.Kind.TOTP:
        return Check(_accept_totp(user, typed.value))
    return Check(Verdict.ACCEPTED if user.check_password(text) else Verdict.WRONG)


def new_recovery_codes(user: User) -> list[str]:
    """New recovery codes; the old ones, used or not, stop working."""
    if not has_second_factor(user):
        raise TwoFactorError("Two-step sign-in is off for your account: there are no codes.")
    made = _replace_recovery_codes(user)
    log.info("recovery codes replaced", extra={"user_id": user.id})
    return made


def turn_off(user: User) -> None:
    """The user's choice, from their account page (allowed only where not required)."""
    _remove(user)
    log.info("two-step sign-in turned off", extra={"user_id": user.id})


def reset(user: User) -> int:
    """An operator's reset (`flask user reset-2fa`): the authenticator, the recovery codes,
    the waiting sign-ins and every session of the user go. How many sessions ended."""
    had = has_second_factor(user)
    _remove(user)
    pending.end_all(user)
    ended = sessions.end_all_sessions(user)
    log.info("two-step sign-in reset", extra={"user_id": user.id, "had_second_step": had})
    return ended


def _remove(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id))
    db.session.flush()


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    made = codes.new_recovery_codes()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=User.hash_of(codes.plain_recovery_code(shown)))
        for shown in made
    )
    db.session.flush()
    return made


def _recovery_left(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
