"""Pure: the audit action names of organizations, memberships, invites, API tokens and teams.

Orgs sits below the audit log (DESIGN §16), so it names its own actions; the audit
package lists them beside its ``Action`` names wherever it enumerates every action.
"""

from enum import StrEnum


class OrgAction(StrEnum):
    ORG_CREATED = "org.created"
    ORG_UPDATED = "org.updated"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    INVITE_REVOKED = "invite.revoked"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    TEAM_CREATED = "team.created"
    TEAM_UPDATED = "team.updated"
    TEAM_DELETED = "team.deleted"
    MEMBER_BOARD_CHANGED = "member.board_changed"
