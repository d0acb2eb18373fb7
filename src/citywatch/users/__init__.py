"""Users: accounts, passwords, tokens and sessions."""
