"""Conversational AI agents: one more kind of channel task (``service.channeltasks``), started from a named
agent profile, adopted after an ambiguous start, kept in step with NCS product 17, history kept in S3."""
