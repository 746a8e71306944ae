"""Channel moderation for admins: Agora's online channels and users, webhook presence, kicking rules."""
