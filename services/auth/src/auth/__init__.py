"""The auth service: credentials, sign-in, sessions, one-time codes and access tokens."""
