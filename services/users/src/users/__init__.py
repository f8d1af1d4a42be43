"""The users service: user profiles, permissions and the balance read model."""
