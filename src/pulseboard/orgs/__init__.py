"""Organizations (tenants), users, memberships and roles, invites, API tokens."""
