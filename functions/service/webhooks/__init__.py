"""Agora NCS webhooks: a fast, durable intake (HMAC-verified, one conditional DynamoDB put) and a stream processor."""
