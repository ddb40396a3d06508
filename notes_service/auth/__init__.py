"""Users, roles, passwords, API tokens and web sign-in."""
