"""Accounts: sign-up, sign-in and its rate limit. A model-less app: users are Django's own."""
