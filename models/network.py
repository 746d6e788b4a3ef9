"""The three networks and their yearly meeting quotas."""

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from models.organisation import Organisation, OrganisationKind

if TYPE_CHECKING:
    from models.member import Member


class ToNetworks:
    """What goes to one or more networks (a newsletter, a request for advice): its ``networks``."""

    if TYPE_CHECKING:
        networks: list["Network"]

    @property
    def codes(self) -> str:
        return " + ".join(n.code for n in self.networks)

    def managed_by(self, member: "Member") -> bool:
        """A coordinator manages it when they coordinate every network it goes to."""
        return bool(self.networks) and all(member.coordinates(n) for n in self.networks)


class Network(Model):
    """NIK, NIFS or NONEMI: who may join, and how many meetings a year it holds."""

    __tablename__ = "networks"
    __table_args__ = (
        CheckConstraint("code IN ('NIK', 'NIFS', 'NONEMI')", name="known_code"),
        CheckConstraint("network_meetings_per_year >= 0", name="network_meetings_not_negative"),
        CheckConstraint("professional_meetings_max >= 0", name="professional_meetings_not_negative"),
    )

    # Which kinds of organisation each network is for; observers may follow any network.
    MEMBER_KINDS: ClassVar[dict[str, set[OrganisationKind]]] = {
        "NIK": {OrganisationKind.MUNICIPALITY, OrganisationKind.COUNTY_MUNICIPALITY},
        "NIFS": {OrganisationKind.VOLUNTARY_ORGANISATION},
        "NONEMI": {OrganisationKind.HOSPITAL_TRUST},
    }

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    network_meetings_per_year: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    professional_meetings_max: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    # The incoming-webhook address of the network's Teams channel: newsletters and call-ins are posted there too.
    teams_webhook_url: Mapped[str | None] = mapped_column(String(1000))

    def __repr__(self) -> str:
        return f"<Network {self.code}>"

    def accepts(self, organisation: Organisation) -> bool:
        """Whether people from ``organisation`` can take part (as members or observers)."""
        return organisation.active and (
            organisation.kind in self.MEMBER_KINDS[self.code]
            or organisation.kind == OrganisationKind.OBSERVER
        )

    def localized(self, field: str, locale: Any) -> str:
        """``name`` or ``description`` in the reader's language (bokmål is the original)."""
        text: str = getattr(self, f"{field}_en" if str(locale).startswith("en") else field)
        return text
